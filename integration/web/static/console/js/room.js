/**
 * The session's room: where the patient's video will appear, the delivery of
 * the patient's link, what the regulator can do (retry, another channel, a
 * new link, a third party, end), and the session's timeline beside it.
 *
 * The room follows the session from `GET /console/api/sessions/{id}`: again on
 * each `session.updated` message for it, and every 5 s while it is open.
 * @module room
 */

import { ApiError, endSession, fetchSession, inviteToSession, reportUrls, retryInvitation } from './api.js';
import { errorMessage } from './errors.js';
import { DocumentPanel } from './documents.js';
import { StillGallery } from './gallery.js';
import { applyTranslations, formatTime, t } from './i18n.js';
import { PhotoModePanel } from './photomode.js';
import { PopOut } from './popout.js';
import { LocationPanel } from './location.js';
import { outcomeLines, placeholderLines, stepLabel, videoNotice } from './outcome.js';
import { PathPanel } from './netpath.js';
import { RemoteBar } from './remote.js';
import { ScreenShare } from './screenshare.js';
import { PATIENT, VideoLayout } from './thumbnails.js';
import { RoomVideo } from './video.js';
import {
  callLine,
  callStatus,
  channelName,
  currentStep,
  deliveryLine,
  displayDestination,
  editableDestination,
  invitationStatus,
  isClosed,
  openedLine,
  patientInvitation,
  sessionChip,
  thirdPartyInvitations,
  timelineLine,
  visibleTimeline,
} from './sessions.js';

/** @typedef {import('./api.js').Session} Session */
/** @typedef {import('./api.js').Invitation} Invitation */

/** Fallback refresh while the room is open (the WebSocket usually comes first). */
export const POLL_INTERVAL_MS = 5000;

/**
 * What the link form is for.
 * @typedef {'resend' | 'email' | 'sms' | 'third_party'} FormMode
 */

/** @type {Record<FormMode, {label: string, note: string, role: 'patient' | 'third_party', inputMode: string}>} */
const FORM_MODES = {
  resend: { label: 'room.form.resend.label', note: 'room.form.patient.note', role: 'patient', inputMode: 'text' },
  email: { label: 'room.form.email.label', note: 'room.form.patient.note', role: 'patient', inputMode: 'email' },
  sms: { label: 'room.form.sms.label', note: 'room.form.patient.note', role: 'patient', inputMode: 'tel' },
  third_party: {
    label: 'room.form.third_party.label',
    note: 'room.form.third_party.note',
    role: 'third_party',
    inputMode: 'text',
  },
};

/**
 * @typedef {object} RoomOptions
 * @property {'call' | 'history'} from where the regulator came from (the back button says so)
 * @property {() => void} onBack leave the room (nothing is ended)
 * @property {(callId: string) => string | null} lineOf the line of a call the console knows
 * @property {(session: Session) => void} [onRender] called after each render (page title)
 * @property {(message: object) => boolean} send a message on the console's WebSocket
 * @property {string} self the signed-in regulator's login (their own watching is not news to them)
 */

let nextId = 0;

/** One session's room, built from `<template id="room-template">`. */
export class Room {
  /**
   * @param {string} sessionId
   * @param {RoomOptions} options
   */
  constructor(sessionId, options) {
    this.sessionId = sessionId;
    this.options = options;
    /** @type {Session | null} */
    this.session = null;
    this.pollTimer = 0;
    /** @type {Promise<void> | null} */
    this.loading = null;
    this.loadAgain = false;
    this.closed = false;
    /** @type {FormMode | null} */
    this.formMode = null;
    this.timelineCount = -1;
    this.outcomeKey = '';
    this.othersKey = '';
    this.onFullscreenChange = () => this.renderFullscreen();

    this.element = cloneTemplate('room-template');
    this.side = cloneTemplate('room-side-template');
    const id = `room-${(nextId += 1)}`;
    this.field('title').id = `${id}-title`;
    this.element.setAttribute('aria-labelledby', `${id}-title`);
    const report = reportUrls(sessionId);
    /** @type {HTMLAnchorElement} */ (this.field('report')).href = report.page;
    /** @type {HTMLAnchorElement} */ (this.field('report-pdf')).href = report.pdf;
    const input = /** @type {HTMLInputElement} */ (this.field('form-input'));
    input.id = `${id}-destination`;
    /** @type {HTMLLabelElement} */ (this.field('form-label')).htmlFor = input.id;
    this.field('form-note').id = `${id}-note`;
    input.setAttribute('aria-describedby', `${id}-note`);
    this.sideTitle = /** @type {HTMLElement} */ (this.side.querySelector('[data-field="timeline-title"]'));
    this.sideTitle.id = `${id}-timeline-title`;
    this.side.setAttribute('aria-labelledby', this.sideTitle.id);
    this.timeline = /** @type {HTMLOListElement} */ (this.side.querySelector('[data-field="timeline"]'));
    this.timeline.setAttribute('aria-labelledby', this.sideTitle.id);
    this.field('title').textContent = t('room.title.none');
    this.field('back').textContent = t(options.from === 'history' ? 'room.back.history' : 'room.back.call');
    const main = /** @type {HTMLVideoElement} */ (this.field('video-feed'));
    this.video = new RoomVideo(sessionId, {
      send: options.send,
      container: this.field('video'),
      element: main,
      layout: new VideoLayout({
        container: this.field('video'),
        main,
        name: this.field('video-name'),
        list: this.field('thumbs'),
        toggle: /** @type {HTMLButtonElement} */ (this.field('thumbs-layout')),
        labelOf: (id) => this.cameraName(id),
      }),
    });
    this.gallery = new StillGallery(sessionId, this.field('stills'));
    this.remote = new RemoteBar(sessionId, this.field('remote'), options.send);
    this.screen = new ScreenShare(sessionId, this.field('tools'), options.send);
    this.popout = new PopOut(sessionId, this.field('tools'), /** @type {HTMLVideoElement} */ (this.field('video-feed')));
    this.location = new LocationPanel(sessionId, this.field('location'), options.send);
    this.documents = new DocumentPanel(sessionId, this.field('documents'), {
      photo: () => this.remote.command('photo', null),
    });
    this.path = new PathPanel(this.field('path'));
    this.photoMode = new PhotoModePanel(sessionId, this.field('video'), {
      photo: () => this.remote.command('photo', null),
    });
    this.wire();
  }

  /**
   * Show the room: at once from `session` when given (just opened), then keep it fresh.
   * @param {Session | null} session
   */
  open(session) {
    this.video.watch();
    if (session && session.id === this.sessionId) {
      this.render(session);
    } else {
      this.field('video-title').textContent = t('room.loading');
      this.refresh();
    }
    this.pollTimer = window.setInterval(() => {
      if (!this.session || !isClosed(this.session)) {
        this.refresh();
      }
    }, POLL_INTERVAL_MS);
  }

  /** Stop following the session (leaving the room ends nothing). */
  close() {
    this.closed = true;
    document.removeEventListener('fullscreenchange', this.onFullscreenChange);
    if (document.fullscreenElement === this.field('video')) {
      document.exitFullscreen().catch(() => {});
    }
    this.video.stop();
    this.remote.stop();
    this.screen.close();
    this.popout.close();
    this.location.stop();
    window.clearInterval(this.pollTimer);
    this.pollTimer = 0;
  }

  /** Put the keyboard focus on the room's title, so that it is read first. */
  focus() {
    this.field('title').focus();
  }

  /**
   * Fetch the session again; calls made while a fetch runs are folded into one more fetch.
   * @returns {Promise<void>}
   */
  refresh() {
    if (this.loading) {
      this.loadAgain = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.loadAgain = false;
        try {
          const session = await fetchSession(this.sessionId);
          if (!this.closed) {
            this.render(session);
            this.showError('');
          }
        } catch (error) {
          if (!this.closed && !(error instanceof ApiError && error.status === 401)) {
            this.showError(errorMessage(error));
            if (!this.session) {
              this.field('video-title').textContent = t('room.unavailable');
            }
            if (error instanceof ApiError && error.status === 404) {
              // No such session (or purged): asking again will not bring it back.
              window.clearInterval(this.pollTimer);
            }
          }
        }
      } while (this.loadAgain && !this.closed);
      this.loading = null;
    })();
    return this.loading;
  }

  /**
   * Draw the session.
   * @param {Session} session
   */
  render(session) {
    this.session = session;
    const closed = isClosed(session);
    const patient = patientInvitation(session);
    const destination = displayDestination(patient ? patient.destination : session.caller_number);
    this.element.dataset.closed = String(closed);

    this.field('title').textContent = destination ? t('room.title', { destination }) : t('room.title.none');
    const chip = sessionChip(session);
    const stateElement = this.field('state');
    stateElement.textContent = chip.text;
    stateElement.dataset.tone = chip.tone;
    this.field('patient').textContent = patient
      ? t('room.patient', { channel: channelName(patient.channel) })
      : '';
    this.field('opened').textContent = openedLine(session);

    const call = callLine(session, session.call_id ? this.options.lineOf(session.call_id) : null);
    const callState = callStatus(session);
    this.field('call').textContent = call && callState ? `${call} — ${callState}` : call;
    this.field('call').hidden = !call;

    const step = currentStep(session);
    const video = this.field('video');
    video.dataset.state = session.state;
    // Why no video comes, when the log says it (the page's browser, the network).
    const blocked = placeholderLines(session.outcome);
    this.field('video-title').textContent = blocked ? blocked.title : step.title;
    this.field('video-step').textContent = blocked ? blocked.next : step.step;
    const help = this.field('video-help');
    help.textContent = step.help || '';
    help.hidden = !step.help;
    // No frame comes: the last picture stays (see video.js), with the reason written over it.
    const notice = videoNotice(session.outcome);
    video.dataset.notice = notice;
    this.field('video-notice').textContent = notice ? t(`room.video.${notice}`) : '';
    if (notice) {
      this.field('video-title').textContent = t(`room.video.${notice}`);
    }
    this.video.hold(Boolean(notice));
    const path = this.path.update(session);
    if (path && path.kind === 'no_path') {
      // No frame can come: the placeholder says why, and what to do instead.
      this.field('video-title').textContent = path.text;
      this.field('video-step').textContent = path.step;
    }

    const line = deliveryLine(session);
    const status = this.field('status');
    // A frozen picture is the latest news, not the video that came before it.
    const frozenAt = notice === 'frozen' && session.outcome ? session.outcome.at : null;
    const shown = frozenAt ? { text: t('room.status.frozen', { time: formatTime(frozenAt) }), tone: 'failed' } : line;
    if (status.textContent !== shown.text) {
      status.textContent = shown.text;
    }
    status.dataset.tone = shown.tone;

    this.renderThirdParties(session, closed);
    this.video.relabel();

    this.part('actions').hidden = closed;
    this.field('tools').hidden = closed;
    const failure = this.part('failure');
    failure.hidden = closed || !line.failed;
    if (patient && line.failed) {
      const retry = /** @type {HTMLButtonElement} */ (this.field('retry'));
      if (!retry.disabled) {
        retry.textContent = stepLabel('retry', patient.channel);
      }
      const other = patient.channel === 'email' ? 'sms' : 'email';
      const button = this.field('other-channel');
      button.textContent = t(other === 'email' ? 'room.send_email' : 'room.send_sms');
      button.dataset.mode = other;
    }
    if (closed) {
      this.closeForm(false);
      this.video.stop();
      if (document.fullscreenElement === video) {
        document.exitFullscreen().catch(() => {});
      }
      this.remote.end();
      this.screen.end();
      this.popout.close();
    }

    this.renderOutcome(session, closed, line.failed);
    if (path && path.kind === 'no_path' && session.outcome && session.outcome.kind === 'no_path' && !closed) {
      // One place says it: the outcome, in the path's own words (why, and what to do).
      this.field('outcome-title').textContent = path.text;
      const next = this.field('outcome-next');
      next.textContent = path.step;
      next.hidden = !path.step;
    }
    this.renderTimeline(session);
    this.gallery.update(session, closed);
    this.location.update(session, closed);
    this.documents.update(session, closed);
    this.photoMode.update(session, closed);
    if (this.options.onRender) {
      this.options.onRender(session);
    }
  }

  /**
   * Destination of the room, for the page title.
   * @returns {string}
   */
  destination() {
    if (!this.session) {
      return '';
    }
    const patient = patientInvitation(this.session);
    return displayDestination(patient ? patient.destination : this.session.caller_number);
  }

  /**
   * The name under a camera's picture: "Patient", or the third party's number or address.
   * @param {string} id the publisher's id
   * @returns {string}
   */
  cameraName(id) {
    if (id === PATIENT) {
      return t('video.name.patient');
    }
    const invitationId = id.startsWith('third_party:') ? id.slice('third_party:'.length) : '';
    const invitation = this.session && this.session.invitations.find((item) => item.id === invitationId);
    return invitation
      ? t('video.name.third_party', { destination: displayDestination(invitation.destination) })
      : t('video.name.third_party.unknown');
  }

  /**
   * @private
   * @param {Session} session
   * @param {boolean} closed
   */
  renderThirdParties(session, closed) {
    const list = this.field('others');
    const invitations = thirdPartyInvitations(session);
    // Redraw only on change: a poll must not take the focus off a button.
    const key = JSON.stringify([
      closed,
      invitations.map((invitation) => [invitation.id, invitation.sees_patient, invitationStatus(session, invitation).text]),
    ]);
    if (key === this.othersKey) {
      return;
    }
    this.othersKey = key;
    const items = invitations.map((invitation) => {
      const item = document.createElement('li');
      item.className = 'room-other';
      const status = invitationStatus(session, invitation);
      item.dataset.tone = status.tone;
      const text = document.createElement('span');
      text.textContent = t(invitation.sees_patient ? 'room.third_party.line.sees' : 'room.third_party.line', {
        destination: displayDestination(invitation.destination),
        channel: channelName(invitation.channel),
        status: status.text,
      });
      item.append(text);
      if (status.failed && !closed) {
        const retry = document.createElement('button');
        retry.type = 'button';
        retry.className = 'button button-secondary button-small';
        retry.textContent = t('room.retry');
        retry.addEventListener('click', () => this.retry(invitation, retry));
        item.append(retry);
      }
      return item;
    });
    list.replaceChildren(...items);
    list.hidden = items.length === 0;
  }

  /**
   * The session's outcome, in the room and atop the timeline; redrawn only when it changed, so
   * that a poll never takes the focus off one of its buttons.
   * @private
   * @param {Session} session
   * @param {boolean} closed
   * @param {boolean} failed the delivery failed: the room's own retry buttons are shown already
   */
  renderOutcome(session, closed, failed) {
    const outcome = session.outcome;
    const box = this.field('outcome');
    const banner = /** @type {HTMLElement} */ (this.side.querySelector('[data-field="timeline-outcome"]'));
    if (!outcome) {
      box.hidden = true;
      banner.hidden = true;
      return;
    }
    const patient = patientInvitation(session);
    const channel = patient && patient.channel === 'email' ? 'email' : 'sms';
    const steps = closed
      ? []
      : (outcome.next_steps || []).filter((step) => !(failed && (step === 'retry' || step === 'email' || step === 'sms')));
    const lines = outcomeLines(outcome);
    const key = JSON.stringify([lines, steps, channel, outcome.final]);
    if (key === this.outcomeKey) {
      return;
    }
    this.outcomeKey = key;
    box.hidden = false;
    box.dataset.tone = lines.tone;
    box.dataset.kind = outcome.kind;
    this.field('outcome-label').textContent = t(outcome.final ? 'outcome.label.final' : 'outcome.label');
    this.field('outcome-title').textContent = lines.title;
    const next = this.field('outcome-next');
    next.textContent = lines.next;
    next.hidden = !lines.next;
    const buttons = steps.map((step, index) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = `button ${index === 0 ? 'button-primary' : 'button-secondary'}`;
      button.dataset.step = step;
      button.textContent = stepLabel(step, channel);
      button.addEventListener('click', () => this.nextStep(step, button));
      return button;
    });
    const list = this.field('outcome-steps');
    list.replaceChildren(...buttons);
    list.hidden = buttons.length === 0;
    banner.hidden = false;
    banner.dataset.tone = lines.tone;
    banner.textContent = outcome.final ? `${t('outcome.label.final')} : ${lines.title}`.replace(' :', '\u00a0:') : lines.title;
  }

  /**
   * Do one of the outcome's next steps with the room's own actions.
   * @private
   * @param {string} step
   * @param {HTMLButtonElement} button
   */
  nextStep(step, button) {
    const patient = this.session && patientInvitation(this.session);
    switch (step) {
      case 'retry':
        if (patient) {
          this.retry(patient, button);
        }
        break;
      case 'resend':
        this.openForm('resend');
        break;
      case 'email':
      case 'sms':
        this.openForm(step);
        break;
      case 'photo':
        this.remote.command('photo', null);
        break;
      default:
        break;
    }
  }

  /**
   * Redraw the timeline when it changed (events are only ever appended).
   * @private
   * @param {Session} session
   */
  renderTimeline(session) {
    const events = visibleTimeline(session, this.options.self);
    if (events.length === this.timelineCount) {
      return;
    }
    this.timelineCount = events.length;
    const items = events.map((event) => {
      const line = timelineLine(session, event);
      const item = document.createElement('li');
      item.className = 'timeline-item';
      item.dataset.tone = line.tone;
      item.dataset.type = event.type;
      const time = document.createElement('time');
      time.className = 'timeline-time';
      time.dateTime = event.at;
      time.textContent = formatTime(event.at);
      const text = document.createElement('span');
      text.className = 'timeline-text';
      text.textContent = line.text;
      item.append(time, text);
      return item;
    });
    const list = this.timeline;
    const atTop = list.scrollTop < 8;
    // Newest first: the latest step is the first line read, without scrolling.
    list.replaceChildren(...items.reverse());
    if (atTop) {
      // Keep the newest line in sight, unless the regulator scrolled down to read older ones.
      list.scrollTop = 0;
    }
    const empty = /** @type {HTMLElement} */ (this.side.querySelector('[data-field="timeline-empty"]'));
    empty.hidden = items.length > 0;
  }

  /** @private */
  wire() {
    this.field('back').addEventListener('click', () => this.options.onBack());
    this.field('retry').addEventListener('click', (event) => {
      const patient = this.session && patientInvitation(this.session);
      if (patient) {
        this.retry(patient, /** @type {HTMLButtonElement} */ (event.currentTarget));
      }
    });
    this.field('other-channel').addEventListener('click', (event) => {
      const mode = /** @type {HTMLElement} */ (event.currentTarget).dataset.mode === 'sms' ? 'sms' : 'email';
      this.openForm(mode);
    });
    this.field('resend').addEventListener('click', () => this.openForm('resend'));
    this.field('third-party').addEventListener('click', () => this.openForm('third_party'));
    this.field('end').addEventListener('click', () => this.end());
    this.field('fullscreen').addEventListener('click', () => this.toggleFullscreen());
    document.addEventListener('fullscreenchange', this.onFullscreenChange);
    this.field('form-cancel').addEventListener('click', () => this.closeForm(true));
    const form = /** @type {HTMLFormElement} */ (this.part('form'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.sendLink();
    });
    form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        this.closeForm(true);
      }
    });
    this.field('form-input').addEventListener('input', () => this.showFormError(''));
  }

  /**
   * The video over the whole screen, or back in the room (Escape also leaves it).
   * @private
   */
  async toggleFullscreen() {
    const video = this.field('video');
    try {
      if (document.fullscreenElement === video) {
        await document.exitFullscreen();
      } else {
        await video.requestFullscreen();
      }
    } catch (error) {
      console.warn('full screen refused', error);
    }
  }

  /** @private */
  renderFullscreen() {
    const button = this.field('fullscreen');
    const full = document.fullscreenElement === this.field('video');
    button.setAttribute('aria-pressed', String(full));
    button.textContent = t(full ? 'room.fullscreen.leave' : 'room.fullscreen');
  }

  /**
   * Send a failed invitation again.
   * @private
   * @param {Invitation} invitation
   * @param {HTMLButtonElement} button
   */
  async retry(invitation, button) {
    if (!this.session || button.disabled) {
      return;
    }
    const label = button.textContent;
    button.disabled = true;
    button.textContent = t('room.retry.pending');
    try {
      await retryInvitation(this.session.id, invitation.id);
      this.showError('');
      await this.refresh();
      this.showSent(
        t('room.sent.retry', {
          destination: displayDestination(invitation.destination),
          time: formatTime(new Date().toISOString()),
        }),
      );
    } catch (error) {
      this.showError(errorMessage(error));
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }

  /**
   * Show the link form for `mode`, prefilled where it helps.
   * @private
   * @param {FormMode} mode
   */
  openForm(mode) {
    const settings = FORM_MODES[mode];
    const form = this.part('form');
    const input = /** @type {HTMLInputElement} */ (this.field('form-input'));
    const patient = this.session && patientInvitation(this.session);
    if (this.formMode !== mode) {
      this.formMode = mode;
      this.field('form-label').textContent = t(settings.label);
      this.field('form-note').textContent = t(settings.note);
      input.inputMode = settings.inputMode;
      this.field('form-sees').hidden = mode !== 'third_party';
      /** @type {HTMLInputElement} */ (this.field('form-sees-input')).checked = false;
      if (mode === 'resend' && patient) {
        input.value = editableDestination(patient.destination);
      } else if (mode === 'sms' && this.session && this.session.caller_number) {
        input.value = editableDestination(this.session.caller_number);
      } else {
        input.value = '';
      }
      this.showFormError('');
    }
    form.dataset.mode = mode;
    form.hidden = false;
    this.field('sent').hidden = true;
    for (const button of this.element.querySelectorAll('[data-opens-form]')) {
      button.setAttribute('aria-expanded', String(button === this.openerOf(mode)));
    }
    input.focus();
    input.select();
    form.scrollIntoView({ block: 'nearest' });
  }

  /**
   * The button that opens the form in `mode`.
   * @private
   * @param {FormMode | null} mode
   * @returns {HTMLElement | null}
   */
  openerOf(mode) {
    switch (mode) {
      case 'resend':
        return this.field('resend');
      case 'third_party':
        return this.field('third-party');
      case 'email':
      case 'sms':
        return this.field('other-channel');
      default:
        return null;
    }
  }

  /**
   * @private
   * @param {boolean} returnFocus give the focus back to the button that opened the form
   */
  closeForm(returnFocus) {
    const form = this.part('form');
    if (form.hidden) {
      return;
    }
    const opener = this.openerOf(this.formMode);
    form.hidden = true;
    this.formMode = null;
    this.showFormError('');
    for (const button of this.element.querySelectorAll('[data-opens-form]')) {
      button.setAttribute('aria-expanded', 'false');
    }
    if (returnFocus) {
      if (opener && opener.offsetParent !== null) {
        opener.focus();
      } else {
        this.field('status').focus();
      }
    }
  }

  /** @private */
  async sendLink() {
    const mode = this.formMode;
    const session = this.session;
    const submit = /** @type {HTMLButtonElement} */ (this.field('form-submit'));
    if (!mode || !session || submit.disabled) {
      return;
    }
    const input = /** @type {HTMLInputElement} */ (this.field('form-input'));
    const destination = input.value.trim();
    if (!destination) {
      this.showFormError(t('invite.missing'));
      input.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = t('room.form.pending');
    try {
      const sees = /** @type {HTMLInputElement} */ (this.field('form-sees-input')).checked;
      const invitation = await inviteToSession(session.id, destination, FORM_MODES[mode].role, sees);
      this.closeForm(false);
      await this.refresh();
      this.showSent(
        t(mode === 'resend' ? 'room.sent.resend' : 'room.sent.new', {
          destination: displayDestination(invitation.destination),
          channel: channelName(invitation.channel),
          time: formatTime(invitation.created_at),
        }),
      );
    } catch (error) {
      this.showFormError(errorMessage(error));
      input.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = t('room.form.submit');
    }
  }

  /**
   * Ask, then end the session.
   * @private
   */
  async end() {
    const session = this.session;
    if (!session || !(await confirmEnd())) {
      this.field('end').focus();
      return;
    }
    const button = /** @type {HTMLButtonElement} */ (this.field('end'));
    button.disabled = true;
    button.textContent = t('room.end.pending');
    try {
      const ended = await endSession(session.id);
      if (!this.closed) {
        this.showError('');
        this.render(ended);
        this.focus();
      }
    } catch (error) {
      this.showError(errorMessage(error));
      // Already ended elsewhere (409): show it as it is now.
      await this.refresh();
    } finally {
      button.disabled = false;
      button.textContent = t('room.end');
    }
  }

  /**
   * @private
   * @param {string} message empty to clear
   */
  showError(message) {
    const error = this.field('error');
    if (error.textContent !== message) {
      error.textContent = message;
    }
    error.hidden = !message;
  }

  /**
   * Confirm a link just sent, under the buttons, and read it out.
   * @private
   * @param {string} message
   */
  showSent(message) {
    const sent = this.field('sent');
    sent.textContent = message;
    sent.hidden = false;
    sent.focus();
  }

  /**
   * @private
   * @param {string} message empty to clear
   */
  showFormError(message) {
    const error = this.field('form-error');
    error.textContent = message;
    error.hidden = !message;
    const input = this.field('form-input');
    if (message) {
      input.setAttribute('aria-invalid', 'true');
    } else {
      input.removeAttribute('aria-invalid');
    }
  }

  /**
   * @private
   * @param {string} name
   * @returns {HTMLElement}
   */
  field(name) {
    return /** @type {HTMLElement} */ (this.element.querySelector(`[data-field="${name}"]`));
  }

  /**
   * @private
   * @param {string} name
   * @returns {HTMLElement}
   */
  part(name) {
    return /** @type {HTMLElement} */ (this.element.querySelector(`[data-part="${name}"]`));
  }
}

/**
 * A translated copy of a `<template>`'s first element.
 * @param {string} id
 * @returns {HTMLElement}
 */
function cloneTemplate(id) {
  const template = /** @type {HTMLTemplateElement} */ (document.getElementById(id));
  const fragment = /** @type {DocumentFragment} */ (template.content.cloneNode(true));
  applyTranslations(fragment);
  return /** @type {HTMLElement} */ (fragment.firstElementChild);
}

/**
 * Ask the regulator to confirm the end of the session (`<dialog id="end-dialog">`).
 * @returns {Promise<boolean>}
 */
export function confirmEnd() {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('end-dialog'));
  return new Promise((resolve) => {
    dialog.returnValue = '';
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'end'), { once: true });
    dialog.showModal();
    /** @type {HTMLElement | null} */ (dialog.querySelector('[data-autofocus]'))?.focus();
  });
}
