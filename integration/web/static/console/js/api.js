/**
 * Calls to the console's HTTP API (same origin, cookie session, CSRF header).
 * @module api
 */

/** Where the browser goes when the session is missing or expired. */
export const LOGIN_URL = '/console/login';

/**
 * @typedef {object} Account
 * @property {string} username
 * @property {string} display_name
 * @property {'regulator' | 'doctor' | 'admin'} role
 */

/**
 * @typedef {object} Me
 * @property {Account} account
 * @property {string | null} position
 * @property {string} csrf_token
 */

/**
 * @typedef {object} InvitationResult
 * @property {'recorded'} status
 * @property {{kind: 'sms' | 'email', value: string, display: string | null}} destination
 */

/** An API call that failed; `message` is already translated when the server sent one. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server could not be reached
   * @param {string} errorId stable error slug (`invalid_position`, `network`...)
   * @param {string} message translated message, may be empty
   * @param {Record<string, unknown>} [details]
   */
  constructor(status, errorId, message, details = {}) {
    super(message || errorId);
    this.name = 'ApiError';
    this.status = status;
    this.errorId = errorId;
    this.serverMessage = message;
    this.details = details;
  }
}

let csrfToken = '';

/**
 * Remember the CSRF token given by `/console/api/me`.
 * @param {string} token
 */
export function setCsrfToken(token) {
  csrfToken = token || '';
}

/** Leave for the login page (session missing or expired). */
export function goToLogin() {
  window.location.assign(LOGIN_URL);
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>} the decoded JSON body, or null when there is none
 */
async function request(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['X-CSRF-Token'] = csrfToken;
  }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, 'network', '');
  }
  if (response.status === 401) {
    goToLogin();
    throw new ApiError(401, 'unauthorized', '');
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
  }
  if (!response.ok) {
    const payload = data && typeof data === 'object' ? data : {};
    throw new ApiError(
      response.status,
      typeof payload.error_id === 'string' ? payload.error_id : 'unknown',
      typeof payload.message === 'string' ? payload.message : '',
      payload.details && typeof payload.details === 'object' ? payload.details : {},
    );
  }
  return data;
}

/**
 * The signed-in account, its position and the CSRF token (which is remembered).
 * Redirects to the login page when not signed in.
 * @returns {Promise<Me>}
 */
export async function fetchMe() {
  const me = await request('GET', '/console/api/me');
  setCsrfToken(me.csrf_token);
  return me;
}

/**
 * Bind the session to another desk phone.
 * @param {string} position e.g. `PJSIP/1002`
 * @returns {Promise<Me>}
 */
export async function changePosition(position) {
  const me = await request('POST', '/console/api/position', { position });
  if (me && me.csrf_token) {
    setCsrfToken(me.csrf_token);
  }
  return me;
}

/**
 * Record a video invitation for a phone number or an e-mail address.
 * @param {string | null} callId the call it belongs to, null for a manual invitation
 * @param {string} destination as typed by the regulator
 * @returns {Promise<InvitationResult>}
 */
export async function createInvitation(callId, destination) {
  return request('POST', '/console/api/sessions', { call_id: callId, destination });
}

/**
 * End the session; the caller then goes to the login page.
 * @returns {Promise<void>}
 */
export async function logout() {
  await request('POST', '/console/logout');
}
