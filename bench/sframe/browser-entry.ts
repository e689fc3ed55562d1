/** Bundled by browser.ts for the bench page: exposes the SFrame table to page.evaluate(). */
import { sframeTable } from './paths.ts';

(globalThis as unknown as { sframeBench: (runs: number) => Promise<string[]> }).sframeBench = async (runs) => {
  const lines: string[] = [];
  await sframeTable(runs, (line) => lines.push(line));
  return lines;
};
