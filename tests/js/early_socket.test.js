// Unit tests of the socket opened before the page's code loads (early.js) and its take-over.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { takeEarlySocket } from '../../patient_page/static/js/signalling.js';

const URL = 'wss://visio.example/p/token/ws';

class FakeSocket extends EventTarget {
  /** @param {string} url */
  constructor(url) {
    super();
    this.url = url;
    /** @type {number | null} */
    this.closedWith = null;
  }

  /** @param {number} code */
  close(code) {
    this.closedWith = code;
  }
}

/** @returns {any} */
function holder() {
  return globalThis;
}

/**
 * What early.js leaves on the window.
 * @param {string} url
 */
function earlySocket(url) {
  const ws = new FakeSocket(url);
  /** @type {Event[]} */
  const events = [];
  const keep = (/** @type {Event} */ event) => events.push(event);
  for (const type of ['open', 'message', 'close']) {
    ws.addEventListener(type, keep);
  }
  holder().visioregulEarly = { ws, events, keep };
  return { ws, events };
}

describe('the early socket', () => {
  beforeEach(() => {
    delete holder().visioregulEarly;
    delete holder().visioregulSignalling;
  });

  test('none opened: the page opens its own, and early.js will not open one after it', () => {
    assert.equal(takeEarlySocket(URL), null);
    assert.equal(holder().visioregulSignalling, true);
  });

  test('taken over with what it heard, and it stops keeping events for itself', () => {
    const { ws, events } = earlySocket(URL);
    ws.dispatchEvent(new Event('open'));
    const early = takeEarlySocket(URL);
    assert.ok(early);
    assert.equal(early.ws, ws);
    assert.deepEqual(early.events.map((event) => event.type), ['open']);
    ws.dispatchEvent(new Event('message'));
    assert.equal(events.length, 1, 'the page listens from now on');
    assert.equal(holder().visioregulEarly, undefined);
    assert.equal(takeEarlySocket(URL), null, 'taken once');
  });

  test("a socket to another address is closed, not used", () => {
    const { ws } = earlySocket('wss://visio.example/p/other/ws');
    assert.equal(takeEarlySocket(URL), null);
    assert.equal(ws.closedWith, 1000);
  });
});
