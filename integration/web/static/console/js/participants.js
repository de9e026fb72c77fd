/**
 * The timeline's lines about third parties in the room: their camera, their
 * video reaching the service or lost, their leaving.
 * @module participants
 */

import { t } from './i18n.js';

/**
 * A readable line for a third party's event, or null for another event.
 * @param {import('./api.js').SessionEvent} event
 * @param {string} destination the third party's number or address, as displayed
 * @returns {{text: string, tone: 'normal' | 'good' | 'failed' | 'muted'} | null}
 */
export function participantTimelineLine(event, destination) {
  const details = event.details || {};
  const who = destination || t('video.name.third_party.unknown');
  switch (event.type) {
    case 'third_party.camera': {
      const state = ['allowed', 'denied', 'unavailable'].includes(details.state) ? details.state : 'unavailable';
      return {
        text: t(`timeline.third_party.camera.${state}`, { destination: who }),
        tone: state === 'allowed' ? 'normal' : 'failed',
      };
    }
    case 'third_party.video_live':
      return { text: t('timeline.third_party.video_live', { destination: who }), tone: 'good' };
    case 'third_party.video_lost':
      return { text: t('timeline.third_party.video_lost', { destination: who }), tone: 'failed' };
    case 'third_party.left':
      return { text: t('timeline.third_party.left', { destination: who }), tone: 'normal' };
    default:
      return null;
  }
}
