/**
 * The printable report's page: its "Imprimer" button opens the browser's print
 * dialog (no inline script: the page's Content-Security-Policy forbids it).
 * @module report-page
 */

document.getElementById('report-print')?.addEventListener('click', () => window.print());
