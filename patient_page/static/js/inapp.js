/**
 * Whether the link opened where the camera cannot work: an e-mail or social
 * app's in-app view (Facebook, Instagram, TikTok...) or a browser without
 * `getUserMedia`; and the links that open it in the phone's own browser.
 * Runs before anything else on the page: kept small, no imports.
 * @module inapp
 */

/**
 * The apps recognised from their in-app view's user agent, first match wins
 * (Messenger and Instagram before Facebook: some of their views carry FB tokens).
 * @type {Array<[string, RegExp]>}
 */
const APPS = [
  ['Messenger', /FBAN\/Messenger|FB_IAB\/(Orca-Android|MESSENGER)/],
  ['Instagram', /\bInstagram[ /]\d/],
  ['Facebook', /FBAN\/|FBAV\/|FB_IAB\/|FBIOS/],
  ['LinkedIn', /LinkedInApp/],
  ['Snapchat', /Snapchat\//],
  ['TikTok', /BytedanceWebview|musical_ly|\btrill_\d|TikTok/],
  ['X', /Twitter for iP|TwitterAndroid/],
  ['Line', /\bLine\/\d/],
  ['WeChat', /MicroMessenger/],
  ['Google', /\bGSA\/\d/],
];

/**
 * The in-app view the page runs in, from the user agent: the app's name, '' for
 * an unnamed app's view (an Android WebView, an iOS WKWebView), null for a browser.
 * @param {string} userAgent
 * @returns {string | null}
 */
export function inAppView(userAgent) {
  for (const [name, pattern] of APPS) {
    if (pattern.test(userAgent)) {
      return name;
    }
  }
  // Android's WebView says "; wv)"; an iOS app's WKWebView leaves out Safari's token, which
  // Safari and every iOS browser (CriOS, FxiOS, EdgiOS) send.
  if (/; wv\)/.test(userAgent) || (/iPhone|iPad|iPod/.test(userAgent) && !/Safari\//.test(userAgent))) {
    return '';
  }
  return null;
}

/**
 * @param {string} userAgent
 * @returns {'android' | 'ios' | 'other'}
 */
export function platform(userAgent) {
  if (/Android/.test(userAgent)) {
    return 'android';
  }
  return /iPhone|iPad|iPod/.test(userAgent) ? 'ios' : 'other';
}

/**
 * Why the camera cannot be asked for here, or null when it can.
 * @param {string} userAgent
 * @param {{mediaDevices?: {getUserMedia?: unknown}}} nav the browser's navigator
 * @returns {{reason: 'in_app_view' | 'no_camera_api', app: string | null} | null}
 */
export function unsupported(userAgent, nav) {
  const app = inAppView(userAgent);
  if (app !== null) {
    return { reason: 'in_app_view', app: app || null };
  }
  if (!nav.mediaDevices || typeof nav.mediaDevices.getUserMedia !== 'function') {
    return { reason: 'no_camera_api', app: null };
  }
  return null;
}

/**
 * A link that opens `href` in the phone's browser from an app's view: Chrome by an
 * Android intent (the page itself when Chrome is missing), Safari by its iOS scheme.
 * @param {string} href the page's address
 * @param {'android' | 'ios' | 'other'} where
 * @returns {string} empty when there is none
 */
export function browserLink(href, where) {
  const url = new URL(href);
  if (where === 'android') {
    const scheme = url.protocol.replace(':', '');
    const fallback = encodeURIComponent(url.href);
    return `intent://${url.host}${url.pathname}${url.search}#Intent;scheme=${scheme};package=com.android.chrome;S.browser_fallback_url=${fallback};end`;
  }
  return where === 'ios' ? `x-safari-${url.href}` : '';
}
