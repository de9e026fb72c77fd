// Unit tests of the patient page's logic (no DOM): which browser's camera instructions apply and
// how a camera failure is read. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { browserFamily, failureKind } from '../../patient_page/static/js/camera.js';

const AGENTS = {
  ios: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  iosChrome: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1',
  samsung: 'Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
  firefox: 'Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0',
  chrome: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
};

describe('camera instructions', () => {
  test('each phone browser gets its own instructions', () => {
    assert.equal(browserFamily(AGENTS.ios), 'ios');
    // Chrome on an iPhone is Safari underneath: Safari's settings apply.
    assert.equal(browserFamily(AGENTS.iosChrome), 'ios');
    // Samsung Internet says "Chrome" too: it must not get Chrome's instructions.
    assert.equal(browserFamily(AGENTS.samsung), 'samsung');
    assert.equal(browserFamily(AGENTS.firefox), 'firefox');
    assert.equal(browserFamily(AGENTS.chrome), 'chrome');
    assert.equal(browserFamily('curl/8.5.0'), 'other');
  });

  test('a refusal is told apart from a missing or busy camera', () => {
    const named = (name) => Object.assign(new Error('x'), { name });
    assert.equal(failureKind(named('NotAllowedError')), 'denied');
    assert.equal(failureKind(named('SecurityError')), 'denied');
    assert.equal(failureKind(named('NotReadableError')), 'unavailable');
    assert.equal(failureKind(named('NotFoundError')), 'unavailable');
    assert.equal(failureKind('weird'), 'unavailable');
  });
});
