/**
 * The console's views in the URL hash, so that a reload or the browser's
 * history reopens them: `#/session/<id>` (a session's room), `#/history`,
 * nothing (the call card), `#/call/<call id>` (that call's card: the CAD's
 * deep link opens the console there). Other hashes are anchors within the page.
 * @module router
 */

/**
 * @typedef {{name: 'call', id?: string} | {name: 'history'} | {name: 'session', id: string}} Route
 */

/** Session ids are opaque tokens: letters, digits, `-` and `_`. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Call ids are Asterisk ids (`1733400000.42`) or the tag's: printable, short. */
const CALL_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/**
 * The route a hash stands for; anything unknown is the call view.
 * @param {string} hash e.g. `#/session/0a1b...`
 * @returns {Route}
 */
export function parseRoute(hash) {
  const path = hash.replace(/^#\/?/, '');
  if (path === 'history') {
    return { name: 'history' };
  }
  const match = /^session\/(.+)$/.exec(path);
  if (match && SESSION_ID.test(match[1])) {
    return { name: 'session', id: match[1] };
  }
  const call = /^call\/(.+)$/.exec(path);
  if (call) {
    try {
      const id = decodeURIComponent(call[1]);
      if (CALL_ID.test(id)) {
        return { name: 'call', id };
      }
    } catch {
      // A malformed escape: the call view, as for any unknown hash.
    }
  }
  return { name: 'call' };
}

/**
 * The hash of a route.
 * @param {Route} route
 * @returns {string}
 */
export function routeHash(route) {
  switch (route.name) {
    case 'history':
      return '#/history';
    case 'session':
      return `#/session/${route.id}`;
    case 'call':
      return route.id ? `#/call/${encodeURIComponent(route.id)}` : '';
    default:
      return '';
  }
}

/** Follows the hash and tells its owner which view to show. */
export class Router {
  /**
   * @param {(route: Route) => void} onRoute called with each new route
   */
  constructor(onRoute) {
    this.onRoute = onRoute;
    /** @type {string | null} the hash last handled (back/forward fire two events) */
    this.handled = null;
    const follow = () => this.follow();
    window.addEventListener('popstate', follow);
    window.addEventListener('hashchange', follow);
  }

  /** Show the view of the current URL. */
  follow() {
    const hash = window.location.hash === '#' ? '' : window.location.hash;
    if (hash === this.handled || (hash && !hash.startsWith('#/'))) {
      // Same view, or an anchor within the page (the skip link's `#stage`).
      return;
    }
    this.handled = hash;
    this.onRoute(parseRoute(hash));
  }

  /**
   * Go to a view, as a new entry of the browser's history.
   * @param {Route} route
   */
  go(route) {
    const hash = routeHash(route);
    if (hash === this.handled) {
      this.onRoute(route);
      return;
    }
    const url = `${window.location.pathname}${window.location.search}${hash}`;
    window.history.pushState(null, '', url);
    this.follow();
  }
}
