/**
 * Turning a failed API call into the sentence the regulator reads.
 * @module errors
 */

import { ApiError } from './api.js';
import { has, t } from './i18n.js';

/**
 * The message to show for a failed API call: the server's own (already
 * translated) message, else the catalogue's, else a generic one.
 * @param {unknown} error
 * @returns {string}
 */
export function errorMessage(error) {
  if (error instanceof ApiError) {
    if (error.errorId === 'network') {
      return t('console.error.network');
    }
    return messageFor(error.errorId, error.serverMessage, error.details);
  }
  return t('console.error.unknown');
}

/**
 * The message for an error the server reported (HTTP body or WebSocket
 * `{"type": "error"}`): its own translated message when present.
 * @param {string} errorId
 * @param {string} [message] already translated by the server
 * @param {Record<string, unknown>} [details]
 * @returns {string}
 */
export function messageFor(errorId, message, details = {}) {
  if (message) {
    return message;
  }
  if (has(`error.${errorId}`)) {
    return t(`error.${errorId}`, stringParams(details));
  }
  return t('console.error.unknown');
}

/**
 * @param {Record<string, unknown>} details
 * @returns {Record<string, string>}
 */
function stringParams(details) {
  /** @type {Record<string, string>} */
  const params = {};
  for (const [name, value] of Object.entries(details || {})) {
    if (typeof value === 'string' || typeof value === 'number') {
      params[name] = String(value);
    }
  }
  return params;
}
