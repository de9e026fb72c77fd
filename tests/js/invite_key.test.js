// Unit tests of the call card's invitation key: "i" alone, never while typing, never with a
// modifier. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { INVITE_KEY, isInviteShortcut } from '../../integration/web/static/console/js/callcard.js';

/** A key press as the browser reports it. */
function press(overrides = {}) {
  return { key: 'i', ctrlKey: false, altKey: false, metaKey: false, shiftKey: false, repeat: false, isComposing: false, ...overrides };
}

const BUTTON = { tagName: 'BUTTON', isContentEditable: false };

describe('the call card invitation key', () => {
  test('is "i", pressed on the page or on a button', () => {
    assert.equal(INVITE_KEY, 'i');
    assert.equal(isInviteShortcut(press(), null), true);
    assert.equal(isInviteShortcut(press(), { tagName: 'BODY' }), true);
    assert.equal(isInviteShortcut(press(), BUTTON), true);
    assert.equal(isInviteShortcut(press({ key: 'I' }), BUTTON), true, 'caps lock on');
  });

  test('never fires while typing in a field', () => {
    for (const tagName of ['INPUT', 'TEXTAREA', 'SELECT']) {
      assert.equal(isInviteShortcut(press(), { tagName }), false, tagName);
    }
    assert.equal(isInviteShortcut(press(), { tagName: 'DIV', isContentEditable: true }), false);
  });

  test('never fires with a modifier, held down or while composing', () => {
    for (const modifier of ['ctrlKey', 'altKey', 'metaKey', 'shiftKey', 'repeat', 'isComposing']) {
      assert.equal(isInviteShortcut(press({ [modifier]: true }), BUTTON), false, modifier);
    }
  });

  test('other keys are not the invitation', () => {
    for (const key of ['Enter', 'j', ' ', 'Escape', 'î']) {
      assert.equal(isInviteShortcut(press({ key }), BUTTON), false, key);
    }
  });
});
