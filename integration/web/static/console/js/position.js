/**
 * The desk phone last used in this browser. A console usually sits at one
 * desk, so the login page offers that position again.
 * @module position
 */

const STORAGE_KEY = 'visioregul.console.position';

/**
 * @param {string} position
 */
export function rememberPosition(position) {
  try {
    window.localStorage.setItem(STORAGE_KEY, position);
  } catch {
    // Storage may be disabled by policy: the login form still works, empty.
  }
}

/**
 * @returns {string} the remembered position, or an empty string
 */
export function rememberedPosition() {
  try {
    return window.localStorage.getItem(STORAGE_KEY) || '';
  } catch {
    return '';
  }
}
