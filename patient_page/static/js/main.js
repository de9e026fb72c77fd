/**
 * The patient's page: consent, the camera, the video sent to the SAMU
 * regulator, and what to do when the camera is refused. Video only: the
 * voice stays on the phone call; the microphone is never asked for.
 *
 * A third party's link runs this page too (`data-role="third_party"`): its
 * own camera, its own wording, no remote control of its phone, and the
 * patient's video when the regulator allowed it.
 * @module main
 */

import {
  browserFamily,
  cameraGranted,
  countCameras,
  failureDetail,
  failureKind,
  nextCameraId,
  openCamera,
} from './camera.js';
import { PatientDocuments } from './documents.js';
import { unsupported } from './inapp.js';
import { PatientLocation } from './location.js';
import { RemoteCamera } from './remote.js';
import { SharedScreen } from './screen.js';
import { Signalling } from './signalling.js';
import { TEXT_ERRORS, Texts } from './texts.js';
import { ScreenAwake } from './wakelock.js';

/** @typedef {'consent' | 'live' | 'denied' | 'unavailable' | 'left' | 'ended' | 'taken' | 'browser'} View */

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

/**
 * A translated text the page carries (`#texts [data-text]`).
 * @param {string} key
 * @returns {string}
 */
function text(key) {
  const element = document.querySelector(`#texts [data-text="${key}"]`);
  return element ? element.textContent || '' : key;
}

/** Set in this tab while the video runs, with the camera's facing: a reload resumes it. */
const RESUME_KEY = `visioregul.camera:${location.pathname}`;

/**
 * sessionStorage, which some browsers refuse (private modes): then nothing is remembered.
 * @param {string | null} value the facing to remember, or null to forget
 */
function remember(value) {
  try {
    if (value === null) {
      window.sessionStorage.removeItem(RESUME_KEY);
    } else {
      window.sessionStorage.setItem(RESUME_KEY, value);
    }
  } catch {
    // Not remembered: a reload asks for one more tap.
  }
}

/** @returns {string | null} */
function remembered() {
  try {
    return window.sessionStorage.getItem(RESUME_KEY);
  } catch {
    return null;
  }
}

class PatientPage {
  constructor() {
    this.app = byId('app');
    /** A third party's page: its phone is never controlled, it may watch the patient. */
    this.thirdParty = this.app.dataset.role === 'third_party';
    /** The regulator allowed this third party to see the patient (from the welcome). */
    this.seesPatient = false;
    this.preview = /** @type {HTMLVideoElement} */ (byId('preview'));
    this.status = byId('status');
    this.switchButton = /** @type {HTMLButtonElement} */ (byId('switch'));
    this.startButton = /** @type {HTMLButtonElement} */ (byId('start'));
    /** @type {MediaStream | null} */
    this.stream = null;
    /** @type {import('./camera.js').Facing} */
    this.facing = 'environment';
    /** @type {RTCIceServer[] | null} */
    this.iceServers = null;
    /** The service takes ICE candidates after the offer (from the welcome). */
    this.trickle = false;
    /** @type {import('./sending.js').VideoLink | null} the video's connection, kept alive */
    this.link = null;
    /** @type {Promise<typeof import('./sending.js')> | null} */
    this.sending = null;
    /** @type {import('./path.js').PathWatch | null} the network path of the current connection */
    this.path = null;
    /** @type {Promise<typeof import('./path.js') | null> | null} loaded with the camera, not before */
    this.pathCode = null;
    /** Why the camera cannot be asked for here (an app's in-app view), found before anything. */
    this.unsupported = unsupported(navigator.userAgent, navigator);
    /** @type {Promise<boolean> | null} the camera being opened again */
    this.reopening = null;
    /** The patient wants the video to run (camera allowed, not stopped). */
    this.wanted = false;
    this.ended = false;
    /** A welcome came already: the next one is a new socket's. */
    this.welcomed = false;
    /** @type {object[]} messages waiting for the socket */
    this.pending = [];
    this.awake = new ScreenAwake();
    this.remote = new RemoteCamera({
      // A third party's camera is not the regulator's to control: nothing is reported.
      send: (message) => (this.thirdParty ? undefined : this.send(message)),
      track: () => (this.stream ? this.stream.getVideoTracks()[0] || null : null),
      switchCamera: () => this.switchCamera(),
      countCameras,
      text,
    });
    this.location = new PatientLocation({
      send: (message) => this.send(message),
      text,
      geolocation: 'geolocation' in navigator ? navigator.geolocation : undefined,
    });
    this.signalling = new Signalling({
      onMessage: (message) => this.onMessage(message),
      onDrop: () => {
        if (this.wanted) {
          this.setStatus('reconnecting', 'wait');
        }
      },
      onRefused: () => this.finish(),
      onTakenOver: () => this.finish('taken'),
    });
    this.texts = new Texts((message) => this.signalling.send(message), text);
    this.screen = new SharedScreen(
      (message) => this.signalling.send(message),
      this.app,
      byId('screen-share'),
      /** @type {HTMLVideoElement} */ (byId('screen-feed')),
    );
    // A third party's page has no documents: they are the patient's.
    this.documents = document.getElementById('documents')
      ? new PatientDocuments({
          send: (message) => this.send(message),
          track: () => (this.stream ? this.stream.getVideoTracks()[0] || null : null),
          text,
        })
      : null;
    /** @type {import('./watch.js').PatientVideo | null} */
    this.patientVideo = null;
    /** @type {import('./photomode.js').PhotoMode?} */
    this.photos = null;
    /** @type {Promise<import('./photomode.js').PhotoMode>?} */
    this.photoLoading = null;
    const watch = document.getElementById('watch');
    if (watch) {
      // Only a third party's page watches: the patient's page does not load this code, which
      // keeps it small on a weak network.
      import('./watch.js').then(({ PatientVideo }) => {
        this.patientVideo = new PatientVideo({
          send: (message) => this.signalling.send(message),
          section: watch,
          element: /** @type {HTMLVideoElement} */ (byId('watch-video')),
        });
        this.watchPatient();
      });
    }
  }

  start() {
    this.startButton.addEventListener('click', () => this.turnOn());
    // The button is disabled in the HTML until this listener exists, so that a tap made while
    // the script loads is not silently lost (the browser ignores taps on a disabled button).
    this.startButton.disabled = false;
    for (const button of document.querySelectorAll('[data-action="retry"]')) {
      button.addEventListener('click', () => this.turnOn());
    }
    byId('end').addEventListener('click', () => this.stop());
    this.switchButton.addEventListener('click', () => this.switchCamera());
    this.remote.start();
    this.location.start();
    // The test page opened from this link sends its result to the session.
    /** @type {HTMLAnchorElement} */ (byId('test-link')).href = `${window.location.pathname}/test`;
    // Photos and files go even when the camera never starts: the way left when video cannot pass.
    this.documents?.start();
    // Here again after the link went on in another browser: a new page load opens it here
    // (or gets the refusal once the other browser sends its video).
    byId('take-back').addEventListener('click', () => window.location.reload());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') {
        this.onVisible();
      }
    });
    this.signalling.start();
    const problem = this.unsupported;
    if (problem) {
      // Before the camera is asked for: the app's view would refuse it, or hang.
      this.show('browser');
      import('./inappview.js').then(({ showBrowserHelp }) => showBrowserHelp(problem));
      if (!this.thirdParty) {
        this.send({ type: 'browser_unsupported', ...problem });
      }
      byId('browser-anyway').addEventListener('click', () => this.show('consent'));
      return;
    }
    this.resume();
  }

  /**
   * The page was reloaded while the video ran (a stray swipe, the browser
   * recovering memory): the patient already agreed, so the camera starts again
   * without the consent screen, if the browser still holds the permission.
   * @private
   */
  async resume() {
    const facing = remembered();
    if (!facing || !(await cameraGranted()) || this.ended || this.wanted) {
      return;
    }
    this.facing = facing === 'user' ? 'user' : 'environment';
    this.turnOn();
  }

  /**
   * @param {View} view
   */
  show(view) {
    this.app.dataset.view = view;
    for (const section of document.querySelectorAll('[data-view-name]')) {
      /** @type {HTMLElement} */ (section).hidden = section.getAttribute('data-view-name') !== view;
    }
  }

  /**
   * @param {string} key
   * @param {'wait' | 'live' | 'photo'} tone
   */
  setStatus(key, tone) {
    this.status.textContent = text(key);
    this.status.dataset.tone = tone;
  }

  /** @param {object} message */
  send(message) {
    if (!this.signalling.send(message)) {
      this.pending.push(message);
    }
  }

  /** "Activer la caméra" / "Réessayer": ask for the camera, then send it. */
  async turnOn() {
    if (this.ended) {
      return;
    }
    const buttons = /** @type {NodeListOf<HTMLButtonElement>} */ (
      document.querySelectorAll('#start, [data-action="retry"]')
    );
    buttons.forEach((button) => (button.disabled = true));
    this.loadSending(); // while the patient answers the camera prompt
    this.loadPathCode();
    try {
      this.stream = await openCamera(this.facing);
    } catch (error) {
      const kind = failureKind(error);
      this.send({ type: 'camera', state: kind, detail: failureDetail(error) });
      const family = browserFamily(navigator.userAgent);
      for (const element of document.querySelectorAll('[data-browser]')) {
        /** @type {HTMLElement} */ (element).hidden = element.getAttribute('data-browser') !== family;
      }
      this.show(kind);
      return;
    } finally {
      buttons.forEach((button) => (button.disabled = false));
    }
    performance.mark('visioregul:camera');
    this.send({ type: 'camera', state: 'allowed', detail: '' });
    remember(this.facing);
    this.wanted = true;
    this.showPreview();
    this.show('live');
    this.setStatus('connecting', 'wait');
    this.awake.start();
    countCameras().then((count) => {
      this.switchButton.hidden = count < 2;
    });
    this.publish();
    this.watchPatient();
    if (this.documents) {
      this.photoLoading ||= import('./photomode.js').then((module) => (this.photos = module.attach(this, text)));
      this.photoLoading.then((photos) => photos.cameraAllowed());
    }
  }

  /** A third party allowed to see the patient watches while its camera is on. */
  watchPatient() {
    if (this.patientVideo && this.seesPatient && this.wanted && !this.patientVideo.active) {
      this.patientVideo.watch();
    }
  }

  /** @private */
  showPreview() {
    const stream = /** @type {MediaStream} */ (this.stream);
    this.preview.srcObject = stream;
    this.preview.play().catch(() => {});
    this.remote.report();
    const track = stream.getVideoTracks()[0];
    track.addEventListener('ended', () => {
      // The phone took the camera back (the patient went to the phone app, another app).
      // Hidden: wait until the page is seen again (onVisible). Visible: open it again.
      if (this.wanted && this.stream === stream && document.visibilityState === 'visible') {
        this.reopenCamera('track ended');
      }
    });
  }

  /**
   * The page is seen again (the patient comes back from the phone app, or
   * unlocks the phone): whatever the background stopped starts again.
   * @private
   */
  async onVisible() {
    if (!this.wanted || this.ended) {
      return;
    }
    const track = this.stream ? this.stream.getVideoTracks()[0] : undefined;
    if (!track || track.readyState === 'ended') {
      if (!(await this.reopenCamera('track ended in the background'))) {
        return;
      }
    }
    const state = this.link ? this.link.state : 'closed';
    if (state === 'failed' || state === 'closed') {
      this.publish();
    }
  }

  /**
   * Open the camera again after the phone stopped it, on the same connection.
   * @private
   * @param {string} why for the regulator's timeline when it fails
   * @returns {Promise<boolean>} whether the camera runs again
   */
  reopenCamera(why) {
    // One at a time: the 'ended' event and the return to the page can come together, and a
    // second camera opened meanwhile would stay on, unseen.
    if (!this.reopening) {
      this.reopening = this.openAgain(why).finally(() => {
        this.reopening = null;
      });
    }
    return this.reopening;
  }

  /**
   * @private
   * @param {string} why
   * @returns {Promise<boolean>}
   */
  async openAgain(why) {
    let stream;
    try {
      stream = await openCamera(this.facing);
    } catch (error) {
      if (this.wanted) {
        this.stopVideo();
        const detail = `${why}: ${failureDetail(error)}`.slice(0, 200); // the service's limit
        this.send({ type: 'camera', state: 'unavailable', detail });
        this.show('unavailable');
      }
      return false;
    }
    if (!this.wanted) {
      stream.getTracks().forEach((track) => track.stop());
      return false;
    }
    this.stream = stream;
    this.showPreview();
    // When the connection closed meanwhile, a new one carries the new camera.
    await this.link?.replaceTrack(stream.getVideoTracks()[0]);
    return true;
  }

  /** @returns {Promise<typeof import('./sending.js')>} the video's code, loaded once */
  loadSending() {
    if (!this.sending) {
      this.sending = import('./sending.js');
    }
    return this.sending;
  }

  /** Send the camera with a new connection (first time, or on a new socket). */
  async publish() {
    if (!this.wanted || !this.stream || this.iceServers === null || this.photos?.holdsVideo) {
      return; // the welcome (or the camera, or photo mode) will call again
    }
    // The path's code is not waited for: it catches up with what the connection found.
    const { VideoLink } = await this.loadSending();
    if (!this.wanted || !this.stream || this.photos?.holdsVideo) {
      return;
    }
    if (!this.link) {
      this.link = new VideoLink({
        iceServers: () => this.iceServers || [],
        track: () => (this.stream ? this.stream.getVideoTracks()[0] || null : null),
        sendOffer: (sdp) => this.signalling.send({ type: 'offer', sdp }),
        trickle: () => this.trickle,
        // A candidate lost with the socket is not missed: the next socket brings a new offer.
        sendCandidate: (message) => this.signalling.send(message),
        // A third party's reconnections are not the patient's video: the service takes none.
        report: (message) => (this.thirdParty ? undefined : this.send(message)),
        status: (key, tone) => this.setStatus(key, tone),
        restartSignalling: () => this.signalling.restart(),
        onState: (state) => this.onConnectionState(state),
        onVerdict: (verdict) => this.linkVerdict(verdict),
        onPublisher: (publisher) => {
          this.path?.stop();
          this.path = null;
          const servers = this.iceServers || [];
          this.loadPathCode().then((pathCode) => {
            if (!pathCode || this.link?.publisher !== publisher) {
              return; // replaced meanwhile: the new connection has its own watch
            }
            this.path = new pathCode.PathWatch(
              publisher.pc,
              servers,
              (report) => this.send(report),
              (reason) => {
                if (this.noPath(publisher, reason)) {
                  this.link?.retry(null, false, true);
                }
              },
              publisher.gathering,
            );
          });
        },
        // Never connected and the relay did not help: no network path (the page keeps trying).
        onFailed: (publisher) => {
          const reason = this.path ? this.path.reason() : null;
          return reason !== null && this.noPath(publisher, reason);
        },
      });
    }
    this.link.publish(null);
  }

  /**
   * The video connection's state (the link itself reconnects and says so), on the
   * page for its style and for what else follows the connection.
   * @param {RTCPeerConnectionState} state
   */
  onConnectionState(state) {
    this.app.dataset.connection = state;
  }

  /**
   * The code that reports the video's network path: fetched when the camera is asked for, so
   * that the page's first load stays small (without it, the video still runs).
   * @returns {Promise<typeof import('./path.js') | null>}
   */
  loadPathCode() {
    if (!this.pathCode) {
      this.pathCode = import('./path.js').catch((error) => {
        console.warn('path reporting unavailable', error);
        return null;
      });
    }
    return this.pathCode;
  }

  /**
   * The video found no network path: the regulator is told why, the patient in plain words (the
   * connection tries again later: the network may change).
   * @param {import('./publisher.js').Publisher} publisher
   * @param {import('./path.js').NoPathReason} reason
   * @returns {boolean} whether it was said (the publisher is still the page's)
   */
  noPath(publisher, reason) {
    if (!this.link || publisher !== this.link.publisher || !this.wanted) {
      return false;
    }
    this.send({ type: 'no_path', reason });
    this.setStatus('no_path', 'wait');
    return true;
  }

  /**
   * The link's verdict on video (`linkadapt.js`): photo mode acts on it on the patient's page; a
   * third party's page says plainly that its link is too weak.
   * @param {import('./linkadapt.js').VideoVerdict} verdict
   */
  linkVerdict(verdict) {
    if (this.photoLoading) {
      this.photoLoading.then((photos) => photos.onLinkVerdict(verdict));
    } else if (verdict === 'too_weak') {
      this.setStatus('too_weak', 'wait');
    }
  }

  /** @private The service refused something of the video: a new connection, later. */
  retryLater() {
    this.link?.retry(null);
  }

  /** @param {any} message */
  async onMessage(message) {
    switch (message.type) {
      case 'welcome':
        performance.mark('visioregul:welcome');
        if (this.welcomed) {
          // A new socket: what the old one missed (documents sent meanwhile) is fetched.
          this.documents?.refresh();
          // The old socket's end told the consoles the page was gone: its camera is here again.
          if (this.stream) {
            this.remote.report();
          }
        }
        this.welcomed = true;
        this.iceServers = Array.isArray(message.ice_servers) ? message.ice_servers : [];
        this.trickle = message.trickle === true;
        this.screen.reset();
        for (const waiting of this.pending.splice(0)) {
          this.signalling.send(waiting);
        }
        this.seesPatient = message.sees_patient === true;
        // A new socket: a new offer replaces the old publication on the service.
        this.publish();
        if (this.patientVideo && this.patientVideo.active) {
          this.patientVideo.watch(); // a new socket: the old subscription went with the old one
        } else {
          this.watchPatient();
        }
        break;
      case 'video.offer':
      case 'video.left':
        if (this.patientVideo) {
          await this.patientVideo.onMessage(message);
        }
        break;
      case 'answer':
        await this.link?.accept(String(message.sdp));
        break;
      case 'video_stalled':
        // The service gets no frame from this phone: the regulator's picture is frozen.
        if (this.link && this.status.dataset.tone === 'live') {
          this.setStatus('stalled', 'wait');
        }
        break;
      case 'video_resumed':
        if (this.link && this.link.state === 'connected') {
          this.setStatus('live', 'live');
        }
        break;
      case 'video_live':
        this.photoLoading?.then((photos) => photos.onLive());
        break;
      case 'text':
        this.texts.onText(message);
        break;
      case 'error':
        if (TEXT_ERRORS.has(message.error_id)) {
          this.texts.onError(message);
          break;
        }
        if (this.screen.onError(message.error_id)) {
          break;
        }
        console.warn('service refused a message', message.error_id);
        if (this.wanted && message.error_id !== 'invalid_message') {
          this.retryLater();
        }
        break;
      case 'ended':
        this.finish();
        break;
      case 'taken_over':
        this.finish('taken');
        break;
      case 'command':
        if (message.name === 'photo' && this.photos?.active) {
          this.photos.onPhotoCommand(message);
        } else if (message.name === 'photo') {
          this.documents?.onPhotoCommand(message);
        } else {
          this.remote.onCommand(message);
        }
        break;
      case 'document':
        this.documents?.onDocument(message.document);
        break;
      case 'screen.started':
      case 'screen.offer':
      case 'screen.left':
      case 'screen.stopped':
        this.screen.onMessage(message);
        break;
      case 'location.ask':
        this.location.onAsk(message);
        break;
      case 'location.stop':
        this.location.onStop();
        break;
      default:
        break;
    }
  }

  /** Change between the rear and the front camera, on the same connection. */
  async switchCamera() {
    if (!this.stream || this.switchButton.disabled) {
      return;
    }
    this.switchButton.disabled = true;
    const previous = this.facing;
    this.facing = previous === 'environment' ? 'user' : 'environment';
    const nextId = await nextCameraId(this.stream.getVideoTracks()[0]);
    // Many phones cannot open a second camera while one is open: stop it first.
    this.stream.getTracks().forEach((track) => track.stop());
    let stream;
    try {
      stream = await openCamera(this.facing, nextId);
    } catch {
      this.facing = previous;
      try {
        stream = await openCamera(this.facing);
      } catch (error) {
        this.switchButton.disabled = false;
        this.stopVideo();
        this.send({ type: 'camera', state: 'unavailable', detail: failureDetail(error) });
        this.show('unavailable');
        return;
      }
    }
    this.stream = stream;
    remember(this.facing);
    this.showPreview();
    await this.link?.replaceTrack(stream.getVideoTracks()[0]);
    this.switchButton.disabled = false;
  }

  /** "Terminer": the camera stops, the service is told; the call goes on. */
  stop() {
    remember(null);
    this.send({ type: 'end' });
    if (this.patientVideo) {
      this.patientVideo.stop();
    }
    this.stopVideo();
    this.show('left');
  }

  /**
   * The regulator ended the video, the link is no longer valid, or another
   * browser took the link.
   * @param {'ended' | 'taken'} view
   */
  finish(view = 'ended') {
    remember(null);
    this.ended = true;
    this.location.stopFollowing();
    if (this.patientVideo) {
      this.patientVideo.stop();
    }
    this.stopVideo();
    this.signalling.stop();
    this.texts.close();
    this.screen.stop();
    this.documents?.end();
    this.show(view);
  }

  /** @private Tear down in order: the connection, then the camera. */
  stopVideo() {
    this.wanted = false;
    this.photos?.stop();
    this.link?.close();
    this.link = null;
    this.path?.stop();
    if (this.stream) {
      this.stream.getTracks().forEach((track) => track.stop());
      this.stream = null;
    }
    this.preview.srcObject = null;
    this.awake.stop();
  }
}

new PatientPage().start();
