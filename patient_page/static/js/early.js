/**
 * Opens the link's socket as soon as the page starts, while the rest of the page (its styles,
 * its script) is still coming: on a 3G link the socket's own connection costs two round trips,
 * and the service's welcome, with the ICE servers the video needs, is then in hand by the time
 * the patient taps « Activer la caméra ».
 * Inlined as a classic script at the top of the page (patient_page/inline.py), with nothing to
 * import; `Signalling` takes the socket over with what it has heard so far (see
 * `takeEarlySocket` in signalling.js). When the page's code ran first, it opens nothing: one
 * socket per page.
 * @module early
 */

const holder = /** @type {{visioregulEarly?: object, visioregulSignalling?: boolean}} */ (
  /** @type {unknown} */ (window)
);

if (!holder.visioregulSignalling && !holder.visioregulEarly) {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const path = window.location.pathname.replace(/\/+$/, '');
  const ws = new WebSocket(`${scheme}//${window.location.host}${path}/ws`);
  /** @type {Event[]} */
  const events = [];
  const keep = (/** @type {Event} */ event) => events.push(event);
  for (const type of ['open', 'message', 'close']) {
    ws.addEventListener(type, keep);
  }
  holder.visioregulEarly = { ws, events, keep };
}
