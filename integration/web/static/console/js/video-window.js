/**
 * The pop-out page (`/console/sessions/<id>/video`): the patient's video alone,
 * as large as its window, live on its own console socket (one more subscriber
 * of the session's video). It says "Vidéo terminée" when the session ends, and
 * shows the video again when it comes back after a loss.
 * @module video-window
 */

import { loadCatalogue, t } from './i18n.js';
import { popoutStatus, sessionIdOf } from './popout.js';
import { ReconnectingSocket, socketUrl } from './socket.js';
import { RoomVideo } from './video.js';

class VideoWindow {
  constructor() {
    this.sessionId = sessionIdOf(window.location.pathname);
    this.container = /** @type {HTMLElement} */ (document.getElementById('popout-video'));
    this.status = /** @type {HTMLElement} */ (document.getElementById('popout-status'));
    this.state = { ended: false, unknown: false, playing: false, connected: false };
    this.socket = new ReconnectingSocket(socketUrl(), {
      onMessage: (message) => this.onMessage(message),
      onStateChange: (state) => {
        this.state.connected = state === 'open';
        this.render();
      },
    });
    this.video = new RoomVideo(this.sessionId, {
      send: (message) => this.socket.send(message),
      container: this.container,
      element: /** @type {HTMLVideoElement} */ (document.getElementById('popout-feed')),
    });
    // The video's own module sets `data-playing`: the status follows it.
    new MutationObserver(() => {
      this.state.playing = this.container.dataset.playing === 'true';
      this.render();
    }).observe(this.container, { attributes: true, attributeFilter: ['data-playing'] });
  }

  start() {
    this.render();
    this.socket.start();
  }

  /** @param {any} message */
  onMessage(message) {
    if (message.session_id !== undefined && message.session_id !== this.sessionId) {
      return;
    }
    switch (message.type) {
      case 'hello':
        // A new socket (first, or after a drop): watch again.
        if (!this.state.ended) {
          this.video.watch();
        }
        break;
      case 'video.left':
        if (message.reason === 'session_closed') {
          this.finish(false);
        }
        this.video.onMessage(message);
        break;
      case 'video.error':
        if (message.error_id === 'room_closed') {
          this.finish(false);
        } else if (message.error_id === 'session_not_found') {
          this.finish(true);
        }
        this.video.onMessage(message);
        break;
      case 'video.offer':
        this.video.onMessage(message);
        break;
      default:
        break;
    }
  }

  /**
   * The video is over for good: say so, and stop the socket.
   * @param {boolean} unknown the session does not exist (or is not of this centre)
   */
  finish(unknown) {
    this.state.ended = true;
    this.state.unknown = unknown;
    this.video.stop();
    this.socket.stop();
    this.render();
  }

  render() {
    const status = popoutStatus(this.state);
    const text = t(status.key);
    if (this.status.textContent !== text) {
      this.status.textContent = text;
    }
    this.status.dataset.tone = status.tone;
    document.body.dataset.state = status.tone;
    document.title = `${t('popout.title')} — ${text}`;
  }
}

loadCatalogue().then(() => new VideoWindow().start());
