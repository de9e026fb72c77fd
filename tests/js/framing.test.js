// Unit tests of the login page's Pro Santé Connect button in a frame. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { isFramed, setUpProSanteConnect } from '../../integration/web/static/console/js/framing.js';

/** A window with the button and the notice, at the top or in a frame. */
function view({ framed = false, crossOriginTop = false } = {}) {
  const link = { target: '', rel: '' };
  const notice = { hidden: true };
  const win = {
    document: { getElementById: (id) => ({ 'psc-signin': link, 'psc-new-window': notice })[id] ?? null },
  };
  win.self = win;
  Object.defineProperty(win, 'top', {
    get() {
      if (crossOriginTop) throw new Error('SecurityError');
      return framed ? {} : win;
    },
  });
  return { win, link, notice };
}

describe('Pro Santé Connect button', () => {
  test('at the top level it navigates the page itself', () => {
    const { win, link, notice } = view();
    assert.equal(isFramed(/** @type {any} */ (win)), false);
    setUpProSanteConnect(/** @type {any} */ (win));
    assert.equal(link.target, '');
    assert.equal(notice.hidden, true);
  });

  test('in a frame it opens a new top-level tab and says so', () => {
    const { win, link, notice } = view({ framed: true });
    setUpProSanteConnect(/** @type {any} */ (win));
    assert.equal(link.target, '_blank');
    assert.equal(link.rel, 'noopener');
    assert.equal(notice.hidden, false);
  });

  test('a top of another origin that cannot be read counts as framed', () => {
    const { win, link } = view({ crossOriginTop: true });
    assert.equal(isFramed(/** @type {any} */ (win)), true);
    setUpProSanteConnect(/** @type {any} */ (win));
    assert.equal(link.target, '_blank');
  });
});
