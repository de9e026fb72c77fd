/**
 * The patient's video out of the room: in a separate, larger window of the
 * console (`/console/sessions/<id>/video`, one more subscriber to the session's
 * video, which stays live on its own), or in a Document Picture-in-Picture
 * window where the browser has one (the room's own video moves there, and
 * back when that window closes).
 * @module popout
 */

import { t } from './i18n.js';

/**
 * The pop-out page of a session.
 * @param {string} sessionId
 * @returns {string}
 */
export function popoutUrl(sessionId) {
  return `/console/sessions/${encodeURIComponent(sessionId)}/video`;
}

/**
 * The session id in a pop-out page's path ('' when the path is not one).
 * @param {string} path
 * @returns {string}
 */
export function sessionIdOf(path) {
  const match = /^\/console\/sessions\/([^/]+)\/video\/?$/.exec(path);
  if (!match) {
    return '';
  }
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return '';
  }
}

/**
 * The name of a session's pop-out window: a second click brings the same window back.
 * @param {string} sessionId
 * @returns {string}
 */
export function popoutName(sessionId) {
  return `visioregul-video-${sessionId.replace(/[^A-Za-z0-9_-]/g, '')}`;
}

/**
 * Whether the browser offers Document Picture-in-Picture.
 * @param {any} [win]
 * @returns {boolean}
 */
export function canPictureInPicture(win = globalThis) {
  return Boolean(
    win && win.documentPictureInPicture && typeof win.documentPictureInPicture.requestWindow === 'function',
  );
}

/**
 * What the pop-out page says, from the state of its video.
 * @param {{ ended: boolean, unknown: boolean, playing: boolean, connected: boolean }} state
 * @returns {{ key: string, tone: 'wait' | 'live' | 'ended' | 'error' }}
 */
export function popoutStatus(state) {
  if (state.unknown) {
    return { key: 'popout.unknown', tone: 'error' };
  }
  if (state.ended) {
    return { key: 'popout.ended', tone: 'ended' };
  }
  if (!state.connected) {
    return { key: 'popout.reconnecting', tone: 'wait' };
  }
  if (state.playing) {
    return { key: 'popout.live', tone: 'live' };
  }
  return { key: 'popout.waiting', tone: 'wait' };
}

/** The room's pop-out buttons: "Fenêtre séparée" and "Image dans l'image". */
export class PopOut {
  /**
   * @param {string} sessionId
   * @param {HTMLElement} bar the room's tools bar (`[data-popout=...]` inside)
   * @param {HTMLVideoElement} video the room's video element (moved to Picture-in-Picture)
   */
  constructor(sessionId, bar, video) {
    this.sessionId = sessionId;
    this.bar = bar;
    this.video = video;
    /** @type {Window | null} */
    this.pipWindow = null;
    /** @type {{ parent: Node, next: Node | null } | null} */
    this.home = null;
    /** @type {HTMLElement | null} the room's note while the video is away */
    this.note = null;
    this.status = this.part('status');
    const pip = /** @type {HTMLButtonElement} */ (this.part('pip'));
    pip.hidden = !canPictureInPicture();
    this.part('window').addEventListener('click', () => this.openWindow());
    pip.addEventListener('click', () => (this.pipWindow ? this.closePictureInPicture() : this.pictureInPicture()));
  }

  /** Open (or bring back) the session's separate video window. */
  openWindow() {
    const opened = window.open(popoutUrl(this.sessionId), popoutName(this.sessionId), 'popup,width=1024,height=640');
    if (!opened) {
      this.say(t('popout.blocked'));
      return;
    }
    this.say('');
    opened.focus();
  }

  /** Move the room's video into a Picture-in-Picture window. */
  async pictureInPicture() {
    if (!canPictureInPicture() || this.pipWindow) {
      return;
    }
    let pip;
    try {
      pip = await /** @type {any} */ (window).documentPictureInPicture.requestWindow({ width: 640, height: 360 });
    } catch (error) {
      console.warn('picture-in-picture refused', error);
      return;
    }
    this.pipWindow = pip;
    const video = this.video;
    this.home = { parent: /** @type {Node} */ (video.parentNode), next: video.nextSibling };
    pip.document.title = t('popout.title');
    const style = pip.document.createElement('style');
    style.textContent =
      'html,body{margin:0;height:100%;background:#000}video{display:block;width:100%;height:100%;object-fit:contain}';
    pip.document.head.append(style);
    const container = /** @type {HTMLElement} */ (video.parentElement);
    pip.document.body.append(video);
    keepPlaying(video);
    // In the room, where the picture was: where it went (not a black box).
    const note = document.createElement('p');
    note.className = 'room-video-pip';
    note.textContent = t('popout.pip.active');
    container.append(note);
    container.dataset.pip = 'true';
    this.note = note;
    pip.addEventListener('pagehide', () => this.putBack());
    this.bar.dataset.pip = 'true';
    this.part('pip').textContent = t('popout.pip.back');
    this.say('');
  }

  /** Close the Picture-in-Picture window (the video comes back). */
  closePictureInPicture() {
    if (this.pipWindow) {
      this.pipWindow.close();
    }
    this.putBack();
  }

  /** The room closes: the video comes back first. */
  close() {
    this.closePictureInPicture();
  }

  /** @private */
  putBack() {
    const home = this.home;
    this.pipWindow = null;
    this.home = null;
    if (home) {
      home.parent.insertBefore(this.video, home.next);
      keepPlaying(this.video);
      /** @type {HTMLElement} */ (home.parent).dataset.pip = 'false';
    }
    if (this.note) {
      this.note.remove();
      this.note = null;
    }
    this.bar.dataset.pip = 'false';
    this.part('pip').textContent = t('popout.pip');
    this.say('');
  }

  /**
   * @private
   * @param {string} text
   */
  say(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  /**
   * @private
   * @param {string} name
   * @returns {HTMLElement}
   */
  part(name) {
    return /** @type {HTMLElement} */ (this.bar.querySelector(`[data-popout="${name}"]`));
  }
}

/**
 * Play a video just moved to another document. The move may pause it once it has settled,
 * after this call's `play()`: it is played again over the next second if it stopped.
 * @param {HTMLVideoElement} video
 */
export function keepPlaying(video) {
  video.play().catch(() => {});
  let checks = 10;
  const check = () => {
    if (video.paused && video.isConnected) {
      video.play().catch(() => {});
    }
    checks -= 1;
    if (checks > 0) {
      window.setTimeout(check, 100);
    }
  };
  window.setTimeout(check, 100);
}
