/**
 * The timeline's lines for what the patient's page reports of itself: a link
 * opened where the camera cannot work (an app's in-app view, a browser without
 * camera access), with what to tell the patient; a new video connection after
 * the network changed or the old one stopped answering.
 * @module pagereports
 */

import { has, t } from './i18n.js';

/**
 * A readable line for one of these events, or null for another event.
 * @param {import('./api.js').SessionEvent} event
 * @returns {{text: string, tone: 'normal' | 'good' | 'failed' | 'muted'} | null}
 */
export function pageReportLine(event) {
  const details = event.details || {};
  switch (event.type) {
    case 'patient.browser_unsupported': {
      if (details.reason === 'no_camera_api') {
        return { text: t('timeline.browser.no_camera_api'), tone: 'failed' };
      }
      const app = typeof details.app === 'string' && details.app ? details.app : '';
      return {
        text: app ? t('timeline.browser.in_app', { app }) : t('timeline.browser.in_app_unnamed'),
        tone: 'failed',
      };
    }
    case 'video.reconnecting': {
      const key = `timeline.reconnecting.${details.reason}`;
      return { text: has(key) ? t(key) : t('timeline.reconnecting.ice_failed'), tone: 'normal' };
    }
    default:
      return null;
  }
}
