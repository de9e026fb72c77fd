// Unit tests of when the patient's offer goes: complete gathering, a relay in hand, or the bounds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { candidatesAfter, iceUfrag, offerDeadline } from '../../patient_page/static/js/publisher.js';

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

describe('with a service that takes late candidates (trickle ICE)', () => {
  test('the offer goes with the first candidate', () => {
    assert.equal(offerDeadline({ complete: false, firstCandidateAt: 5, firstRelayAt: null }, true), 5);
  });

  test('no candidate yet: it goes after a short while, the others follow', () => {
    assert.equal(offerDeadline({ complete: false, firstCandidateAt: null, firstRelayAt: null }, true), 200);
  });
});

const OFFER = [
  'v=0',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'a=ice-ufrag:Ab3d',
  'a=ice-pwd:secret',
  'a=candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host generation 0',
  '',
].join('\r\n');

/**
 * @param {string} line
 * @returns {RTCIceCandidate}
 */
function candidate(line) {
  return /** @type {RTCIceCandidate} */ ({ candidate: line, sdpMid: '0' });
}

describe('the candidates that follow an offer', () => {
  test('the offer names its ICE username fragment', () => {
    assert.equal(iceUfrag(OFFER), 'Ab3d');
    assert.equal(iceUfrag('v=0\r\n'), '');
  });

  test('a candidate the offer carries is not sent again; the later ones and the end are', () => {
    const relay = 'candidate:2 1 udp 41885439 10.77.1.2 49152 typ relay raddr 0.0.0.0 rport 0';
    const messages = candidatesAfter(OFFER, [
      candidate('candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host generation 0'),
      candidate(relay),
      null,
    ]);
    assert.deepEqual(messages, [
      { type: 'candidate', ufrag: 'Ab3d', candidate: relay, mid: '0' },
      { type: 'candidate', ufrag: 'Ab3d', candidate: null, mid: null },
    ]);
  });

  test('an empty candidate (the end of a generation) is not sent', () => {
    assert.deepEqual(candidatesAfter(OFFER, [candidate('')]), []);
  });
});
