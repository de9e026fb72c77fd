// Unit tests of the remote control's logic (no DOM): which controls the regulator's bar enables
// for a phone's camera, how commands meet their results or time out, and what the patient page
// makes of its track's capabilities. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { PendingCommands, controlsFor, remoteTimelineLine } from '../../integration/web/static/console/js/remote.js';
import { describeCamera, notice, refusal } from '../../patient_page/static/js/remote.js';

const FULL = { cameras: 2, facing_mode: 'user', torch: false, zoom: { min: 1, max: 5, step: 0.1, value: 1 } };
const PLAIN = { cameras: 1, facing_mode: 'user', torch: null, zoom: null };

describe('the regulator bar', () => {
  test('a phone with everything: every control enabled, no reason', () => {
    const controls = controlsFor(FULL, true);
    assert.deepEqual(
      [controls.switch_camera.enabled, controls.torch.enabled, controls.zoom.enabled],
      [true, true, true],
    );
    assert.equal(controls.torch.reason, '');
    assert.equal(controls.torch.on, false);
    assert.deepEqual(controls.zoom.range, FULL.zoom);
  });

  test('a phone without torch, zoom or second camera: greyed with the reason', () => {
    const controls = controlsFor(PLAIN, true);
    for (const control of [controls.switch_camera, controls.torch, controls.zoom]) {
      assert.equal(control.enabled, false);
      assert.equal(control.reason, 'remote.reason.unavailable');
    }
    assert.equal(controls.zoom.range, null);
  });

  test('a zoom without a range is no zoom', () => {
    const controls = controlsFor({ ...FULL, zoom: { min: 1, max: 1, step: 0, value: 1 } }, true);
    assert.equal(controls.zoom.enabled, false);
  });

  test('no page open: everything greyed, saying the page is closed', () => {
    for (const state of [FULL, null]) {
      const controls = controlsFor(state, false);
      assert.equal(controls.torch.enabled, false);
      assert.equal(controls.torch.reason, 'remote.reason.absent');
    }
  });
});

/** Timers driven by the test. */
function fakeTimers() {
  const due = new Map();
  let next = 0;
  return {
    setTimeout: (fn) => {
      next += 1;
      due.set(next, fn);
      return next;
    },
    clearTimeout: (id) => due.delete(id),
    fire: () => {
      for (const [id, fn] of [...due]) {
        due.delete(id);
        fn();
      }
    },
    get count() {
      return due.size;
    },
  };
}

describe('commands and their results', () => {
  test('a result settles the command with the same id, once', async () => {
    const timers = fakeTimers();
    const pending = new PendingCommands(6000, timers);
    const first = pending.nextId();
    const second = pending.nextId();
    assert.notEqual(first, second);
    const waiting = pending.wait(first, 'torch');
    assert.equal(pending.settle({ id: second, name: 'torch', ok: true }), false);
    assert.equal(pending.settle({ id: first, name: 'torch', ok: true, state: FULL }), true);
    assert.deepEqual(await waiting, { id: first, name: 'torch', ok: true, state: FULL });
    assert.equal(timers.count, 0);
    assert.equal(pending.settle({ id: first, name: 'torch', ok: true }), false);
  });

  test('no result in time: « pas de réponse du téléphone », and a late result is ignored', async () => {
    const timers = fakeTimers();
    const pending = new PendingCommands(6000, timers);
    const waiting = pending.wait('a', 'zoom');
    timers.fire();
    assert.deepEqual(await waiting, { id: 'a', name: 'zoom', ok: false, error_id: 'phone_no_answer' });
    assert.equal(pending.settle({ id: 'a', name: 'zoom', ok: true }), false);
  });

  test('leaving the room settles what waits', async () => {
    const timers = fakeTimers();
    const pending = new PendingCommands(6000, timers);
    const waiting = pending.wait('b', 'switch_camera');
    pending.clear();
    assert.equal((await waiting).ok, false);
    assert.equal(timers.count, 0);
  });
});

describe('the patient page', () => {
  test('capabilities with torch and zoom', () => {
    const state = describeCamera(
      { torch: true, zoom: { min: 1, max: 8, step: 0.5 } },
      { facingMode: 'environment', torch: true, zoom: 2 },
      2,
    );
    assert.deepEqual(state, {
      cameras: 2,
      facing_mode: 'environment',
      torch: true,
      zoom: { min: 1, max: 8, step: 0.5, value: 2 },
    });
  });

  test('a camera with neither (a desktop webcam, Firefox): detected, not assumed', () => {
    assert.deepEqual(describeCamera({}, { facingMode: 'weird' }, 1), {
      cameras: 1,
      facing_mode: '',
      torch: null,
      zoom: null,
    });
    // Some browsers list the torch as [false] when it cannot be lit.
    assert.equal(describeCamera({ torch: [false] }, {}, 1).torch, null);
    assert.equal(describeCamera({ torch: [true, false] }, {}, 1).torch, false);
  });

  test('commands the camera cannot do are refused with a reason', () => {
    assert.equal(refusal(PLAIN, 'torch', true), 'not_supported');
    assert.equal(refusal(PLAIN, 'zoom', 2), 'not_supported');
    assert.equal(refusal(PLAIN, 'switch_camera', null), 'not_supported');
    assert.equal(refusal(FULL, 'zoom', 9), 'invalid');
    assert.equal(refusal(FULL, 'torch', 'yes'), 'invalid');
    assert.equal(refusal(FULL, 'fly', 1), 'not_supported');
    assert.equal(refusal(FULL, 'zoom', 2.5), '');
    assert.equal(refusal(null, 'torch', true), 'not_supported');
  });

  test('the patient is told what was done and can undo it', () => {
    assert.deepEqual(notice(FULL, 'torch', true), {
      key: 'remote-torch-on',
      undo: { name: 'torch', value: false },
    });
    assert.deepEqual(notice(FULL, 'zoom', 3).undo, { name: 'zoom', value: 1 });
    assert.equal(notice(FULL, 'switch_camera', null).key, 'remote-switch');
  });
});

describe('the timeline', () => {
  test('remote-control events have their lines; others are left to the timeline', () => {
    assert.equal(remoteTimelineLine({ type: 'video.live' }, 'Dr Martin'), null);
    assert.equal(remoteTimelineLine({ type: 'command.result', details: { name: 'torch', ok: true } }, 'x').tone, 'good');
    assert.equal(remoteTimelineLine({ type: 'command.timeout', details: { name: 'zoom' } }, 'x').tone, 'failed');
  });
});
