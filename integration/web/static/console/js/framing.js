/**
 * Sign-in through Pro Santé Connect from a framed console: the provider's
 * pages refuse to be framed, so its button opens a new top-level tab.
 * @module framing
 */

/**
 * Pro Santé Connect's pages cannot be framed: inside a frame (the CAD's
 * screen), its button opens the sign-in in a new top-level tab, where the
 * console then opens.
 * @param {Window} view
 */
export function setUpProSanteConnect(view) {
  const link = /** @type {HTMLAnchorElement | null} */ (view.document.getElementById('psc-signin'));
  if (!link || !isFramed(view)) {
    return;
  }
  link.target = '_blank';
  link.rel = 'noopener';
  const notice = view.document.getElementById('psc-new-window');
  if (notice) {
    notice.hidden = false;
  }
}

/**
 * Whether the page is inside a frame (reading ``top`` of another origin may throw).
 * @param {Window} view
 * @returns {boolean}
 */
export function isFramed(view) {
  try {
    return view.self !== view.top;
  } catch {
    return true;
  }
}
