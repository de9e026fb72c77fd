// Unit tests of when the patient's offer goes: complete gathering, a relay in hand, or the bounds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { offerDeadline } from '../../patient_page/static/js/publisher.js';

describe('the offer waits for the candidates it needs', () => {
  test('complete gathering sends at once', () => {
    assert.equal(offerDeadline({ complete: true, firstCandidateAt: 10, firstRelayAt: null }), 0);
  });

  test('nothing gathered waits up to the bound', () => {
    assert.equal(offerDeadline({ complete: false, firstCandidateAt: null, firstRelayAt: null }), 4000);
  });

  test('a relay candidate in hand: the other transports get a short while', () => {
    // Host at 5 ms, TURN/UDP at 60 ms: TLS and TCP relays that do not answer do not hold the video.
    assert.equal(offerDeadline({ complete: false, firstCandidateAt: 5, firstRelayAt: 60 }), 360);
  });

  test('host candidates only: a relay gets time to come over a slow link, not the whole bound', () => {
    assert.equal(offerDeadline({ complete: false, firstCandidateAt: 5, firstRelayAt: null }), 2505);
  });

  test('a relay arriving late never pushes the offer past the bound', () => {
    assert.equal(offerDeadline({ complete: false, firstCandidateAt: 5, firstRelayAt: 3900 }), 2505);
    assert.equal(offerDeadline({ complete: false, firstCandidateAt: null, firstRelayAt: 3900 }), 4000);
  });
});
