/**
 * The technical test's result as the room's timeline reads it: the caller
 * tested their phone from the link, and the regulator sees the verdict and
 * its figures.
 * @module testresult
 */

import { t } from './i18n.js';

/**
 * The timeline's line of a `test.result` event; null for another event.
 * @param {{ type: string, details?: Record<string, any> }} event
 * @returns {{ text: string, tone: 'normal' | 'good' | 'failed' | 'muted' } | null}
 */
export function testResultLine(event) {
  if (event.type !== 'test.result') {
    return null;
  }
  const details = event.details || {};
  const verdict = ['ready', 'fragile', 'photos'].includes(details.verdict) ? details.verdict : 'photos';
  const shown = (/** @type {unknown} */ value) => (typeof value === 'number' ? String(value) : '—');
  let figures;
  if (details.camera !== 'ok') {
    figures = t('timeline.test.no_camera');
  } else if (!details.connected) {
    figures = t('timeline.test.no_network');
  } else {
    figures = t('timeline.test.figures', {
      bitrate: shown(details.bitrate_kbps),
      rtt: shown(details.rtt_ms),
      loss: shown(details.loss_percent),
    });
    if (details.relay) {
      figures += `, ${t('timeline.test.relay')}`;
    }
  }
  const tone = verdict === 'ready' ? 'good' : verdict === 'fragile' ? 'normal' : 'failed';
  return { text: t(`timeline.test.${verdict}`, { figures }), tone };
}
