/**
 * The FR / EN switch of the console's header: links to `?lang=<language>`,
 * which the server remembers (a cookie) before showing the page again.
 * The console keeps its place: the followed link carries the current
 * `#/…` route, which a plain `?lang=` link would drop.
 * @module language
 */

/**
 * Make the switch's links keep the current route when followed.
 * @param {ParentNode} [root]
 */
export function keepRouteOnLanguageSwitch(root = document) {
  for (const link of root.querySelectorAll('.language-switch a[data-language]')) {
    link.addEventListener('click', () => {
      const language = link.getAttribute('data-language') ?? '';
      link.setAttribute('href', `?lang=${encodeURIComponent(language)}${window.location.hash}`);
    });
  }
}
