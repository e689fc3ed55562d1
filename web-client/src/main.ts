/** The softphone page's composition root. */
const app = document.getElementById('app');
if (app) app.dataset.view = 'ready';
