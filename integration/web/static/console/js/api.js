/**
 * Calls to the console's HTTP API (same origin, cookie session, CSRF header).
 * @module api
 */

import { setTimeZone } from './i18n.js';

/** Where the browser goes when the session is missing or expired. */
export const LOGIN_URL = '/console/login';

/** Set once the person signs out: nothing else sends the page to the login form. */
let signingOut = false;

/** Set once the page heads for the login form: every request refused at once sends it once. */
let leaving = false;

/**
 * @typedef {object} Account
 * @property {string} username
 * @property {string} display_name
 * @property {'regulator' | 'doctor' | 'admin' | 'platform_admin'} role
 */

/**
 * @typedef {object} Me
 * @property {Account} account
 * @property {string | null} position
 * @property {string[]} positions the positions the account may take
 * @property {string} csrf_token
 * @property {boolean} [must_change_password] a temporary password, to change before anything else
 * @property {boolean} outbox whether messages stay in the service (development, demo)
 * @property {string} time_zone the centre's IANA time zone, e.g. `Europe/Paris`
 */

/**
 * @typedef {object} Invitation
 * @property {string} id
 * @property {'patient' | 'third_party'} role
 * @property {boolean} [sees_patient] a third party may watch the patient's video
 * @property {'sms' | 'email'} channel
 * @property {string} destination E.164 number or e-mail address
 * @property {string} created_at
 * @property {string} created_by
 * @property {string} expires_at
 * @property {string | null} revoked_at
 * @property {string | null} opened_at
 * @property {'pending' | 'queued' | 'sent' | 'delivered' | 'simulated' | 'undelivered' | 'failed'} delivery_status
 * @property {string | null} error_code
 * @property {string | null} error_message
 */

/**
 * @typedef {object} SessionEvent
 * @property {string} at
 * @property {string} actor
 * @property {string} type e.g. `invitation.sent`, `link.opened`
 * @property {Record<string, any>} details
 */

/**
 * @typedef {object} Session
 * @property {string} id
 * @property {string} state `created`, `invited`, `link_opened`... `ended`, `expired`
 * @property {string} created_at
 * @property {string} updated_at
 * @property {string} created_by
 * @property {string | null} position
 * @property {string | null} call_id
 * @property {string | null} caller_number E.164
 * @property {string | null} ended_at
 * @property {string | null} ended_by
 * @property {string | null} end_reason
 * @property {Invitation[]} invitations oldest first (empty in history lists)
 * @property {SessionEvent[]} [timeline] every event, in order (detail only)
 * @property {import('./outcome.js').SessionOutcome} [outcome] what became of it, read from its log
 * @property {Record<string, string>} [people] display names of the logins it names (console detail only)
 */

/**
 * @typedef {object} SessionPage
 * @property {number} total how many sessions match, in all
 * @property {Session[]} sessions newest first
 */

/**
 * @typedef {object} HistoryQuery
 * @property {number} limit
 * @property {number} offset
 * @property {string} [state]
 * @property {string} [number] phone number or e-mail address
 * @property {string} [since] ISO 8601
 * @property {string} [until] ISO 8601 (excluded)
 * @property {string} [regulator] the login of who opened it
 * @property {string} [call_id] the paired call's id
 * @property {string} [outcome] how it ended: outcome kinds separated by commas
 */

/**
 * @typedef {object} OutboxMessage
 * @property {number | string} id
 * @property {'sms' | 'email'} channel
 * @property {string} to
 * @property {string | null} subject
 * @property {string} text
 * @property {string} created_at
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

/**
 * The CSRF token, for a request `request` cannot make (an upload with its progress).
 * @returns {string}
 */
export function currentCsrfToken() {
  return csrfToken;
}

/** Leave for the login page (session missing or expired). */
export function goToLogin() {
  // Signing out: the page leaves by itself, perhaps through the provider's sign-out.
  if (!signingOut && !leaving) {
    leaving = true;
    window.location.assign(LOGIN_URL);
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>} the decoded JSON body, or null when there is none
 */
export async function request(method, path, body) {
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
  } catch {
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
    } catch {
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
  setTimeZone(me.time_zone);
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
 * Open a video session and invite the patient ("Lancer l'invitation").
 * @param {string | null} callId the call it belongs to, null for a manual invitation
 * @param {string} destination as typed by the regulator
 * @returns {Promise<Session>} the new session, with its invitation and timeline
 */
export async function createInvitation(callId, destination) {
  return request('POST', '/console/api/sessions', { call_id: callId, destination });
}

/**
 * @param {string} sessionId
 * @returns {string}
 */
function sessionPath(sessionId) {
  return `/console/api/sessions/${encodeURIComponent(sessionId)}`;
}

/**
 * One session with its invitations and timeline.
 * @param {string} sessionId
 * @returns {Promise<Session>}
 */
export async function fetchSession(sessionId) {
  return request('GET', sessionPath(sessionId));
}

/**
 * A session's printable report (a page of its own) and its PDF.
 * @param {string} sessionId
 * @returns {{page: string, pdf: string}}
 */
export function reportUrls(sessionId) {
  const id = encodeURIComponent(sessionId);
  return { page: `/console/sessions/${id}/report`, pdf: `/console/api/sessions/${id}/report.pdf` };
}

/**
 * The history: sessions newest first, filtered and paginated.
 * @param {HistoryQuery} query
 * @returns {Promise<SessionPage>}
 */
export async function fetchHistory(query) {
  const params = new URLSearchParams({ limit: String(query.limit), offset: String(query.offset) });
  for (const name of /** @type {const} */ (['state', 'number', 'since', 'until', 'regulator', 'call_id', 'outcome'])) {
    const value = query[name];
    if (value) {
      params.set(name, value);
    }
  }
  return request('GET', `/console/api/sessions?${params}`);
}

/**
 * Send a new link: to the patient (the previous patient link stops working)
 * or to a third party.
 * @param {string} sessionId
 * @param {string} destination as typed by the regulator
 * @param {'patient' | 'third_party'} role
 * @returns {Promise<Invitation>}
 */
export async function inviteToSession(sessionId, destination, role, seesPatient = false) {
  const body = role === 'third_party' ? { destination, role, sees_patient: seesPatient } : { destination, role };
  return request('POST', `${sessionPath(sessionId)}/invitations`, body);
}

/**
 * Send a failed invitation again.
 * @param {string} sessionId
 * @param {string} invitationId
 * @returns {Promise<Invitation>}
 */
export async function retryInvitation(sessionId, invitationId) {
  return request(
    'POST',
    `${sessionPath(sessionId)}/invitations/${encodeURIComponent(invitationId)}/retry`,
  );
}

/**
 * End the session: its links stop working (the phone call goes on).
 * @param {string} sessionId
 * @returns {Promise<Session>}
 */
export async function endSession(sessionId) {
  return request('POST', `${sessionPath(sessionId)}/end`, {});
}

/**
 * The messages kept by the development outbox, newest first; null when the
 * service sends real messages (the route answers 404 then).
 * @returns {Promise<OutboxMessage[] | null>}
 */
export async function fetchOutbox() {
  try {
    const body = await request('GET', '/console/api/outbox');
    return body && Array.isArray(body.messages) ? body.messages : [];
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      return null;
    }
    throw error;
  }
}

/**
 * End the session; the caller then goes to the login page, or to the address
 * returned (signed in through Pro Santé Connect: sign out there too).
 * @returns {Promise<string | null>} the provider's sign-out address, if any
 */
export async function logout() {
  signingOut = true;
  const body = await request('POST', '/console/logout');
  return body && typeof body.logout_url === 'string' ? body.logout_url : null;
}
