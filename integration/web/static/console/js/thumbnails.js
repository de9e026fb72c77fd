/**
 * The room's pictures when more than one camera is live: one main picture
 * (the patient's by default), the others as thumbnails on the right of it or
 * inset in it (a toggle the console remembers), a click on a thumbnail makes
 * it the main picture, and each picture is named ("Patient", the third
 * party's number or address).
 * @module thumbnails
 */

import { t } from './i18n.js';

/** The patient's camera in a room. */
export const PATIENT = 'patient';
/** Where the console remembers the thumbnails' place. */
const LAYOUT_KEY = 'visioregul.thumbnails';

/**
 * @typedef {'side' | 'inset'} ThumbnailLayout
 */

/**
 * @typedef {object} Picture
 * @property {string} id the publisher's id (`patient`, `third_party:<invitation id>`)
 * @property {MediaStream | null} stream its frames, once they come
 * @property {boolean} playing frames are flowing
 */

/**
 * Which picture is the main one and which are thumbnails: the chosen one if
 * it is there, else the patient's, else the first; the others keep their order.
 * @param {string[]} ids the cameras of the room, in order of arrival
 * @param {string} chosen the one the regulator clicked last ('' for none)
 * @returns {{main: string, thumbnails: string[]}}
 */
export function arrange(ids, chosen) {
  let main = '';
  if (chosen && ids.includes(chosen)) {
    main = chosen;
  } else if (ids.includes(PATIENT)) {
    main = PATIENT;
  } else {
    main = ids[0] || '';
  }
  return { main, thumbnails: ids.filter((id) => id !== main) };
}

/** @returns {ThumbnailLayout} */
function rememberedLayout() {
  try {
    return window.localStorage.getItem(LAYOUT_KEY) === 'inset' ? 'inset' : 'side';
  } catch {
    return 'side';
  }
}

/**
 * @param {HTMLVideoElement} element
 * @param {MediaStream | null} stream
 */
function show(element, stream) {
  if (element.srcObject !== stream) {
    element.srcObject = stream;
    if (stream) {
      element.play().catch(() => {});
    }
  }
}

/**
 * @typedef {object} LayoutParts
 * @property {HTMLElement} container the room's video area (`data-layout`, `data-thumbs` are set on it)
 * @property {HTMLVideoElement} main the main picture
 * @property {HTMLElement} name the main picture's name
 * @property {HTMLElement} list where the thumbnails go
 * @property {HTMLButtonElement} toggle switches the thumbnails between the right and inset
 * @property {(id: string) => string} labelOf a camera's name
 */

/**
 * One picture only, the patient's (the pop-out window): no thumbnails.
 */
export class PatientOnly {
  /** @param {HTMLVideoElement} main */
  constructor(main) {
    this.main = main;
    this.mainId = PATIENT;
  }

  /**
   * @param {Picture[]} pictures
   * @returns {string}
   */
  render(pictures) {
    const patient = pictures.find((picture) => picture.id === PATIENT);
    show(this.main, patient ? patient.stream : null);
    return PATIENT;
  }

  clear() {
    this.render([]);
  }
}

/** The main picture and its thumbnails. */
export class VideoLayout {
  /** @param {LayoutParts} parts */
  constructor(parts) {
    this.parts = parts;
    this.chosen = '';
    this.mainId = '';
    /** @type {Picture[]} */
    this.pictures = [];
    /** @type {Map<string, HTMLLIElement>} */
    this.items = new Map();
    /** @type {ThumbnailLayout} */
    this.layout = rememberedLayout();
    parts.toggle.addEventListener('click', () => this.setLayout(this.layout === 'side' ? 'inset' : 'side'));
    this.renderLayout();
  }

  /**
   * Make `id` the main picture.
   * @param {string} id
   */
  choose(id) {
    this.chosen = id;
    this.render(this.pictures);
  }

  /**
   * Put the thumbnails on the right of the main picture or inset in it.
   * @param {ThumbnailLayout} layout
   */
  setLayout(layout) {
    this.layout = layout;
    try {
      window.localStorage.setItem(LAYOUT_KEY, layout);
    } catch {
      // Not remembered: the next room starts on the right.
    }
    this.renderLayout();
  }

  /**
   * Draw the room's cameras.
   * @param {Picture[]} pictures in order of arrival
   * @returns {string} the main picture's id
   */
  render(pictures) {
    this.pictures = pictures;
    const byId = new Map(pictures.map((picture) => [picture.id, picture]));
    const { main, thumbnails } = arrange(
      pictures.map((picture) => picture.id),
      this.chosen,
    );
    this.mainId = main;
    const mainPicture = byId.get(main);
    show(this.parts.main, mainPicture ? mainPicture.stream : null);
    const name = main ? this.parts.labelOf(main) : '';
    if (this.parts.name.textContent !== name) {
      this.parts.name.textContent = name;
    }
    for (const [id, item] of this.items) {
      if (!thumbnails.includes(id)) {
        const video = item.querySelector('video');
        if (video) {
          video.srcObject = null;
        }
        item.remove();
        this.items.delete(id);
      }
    }
    for (const id of thumbnails) {
      const picture = /** @type {Picture} */ (byId.get(id));
      const item = this.items.get(id) || this.makeItem(id);
      item.dataset.playing = String(picture.playing);
      const label = this.parts.labelOf(id);
      const text = /** @type {HTMLElement} */ (item.querySelector('.room-thumb-name'));
      if (text.textContent !== label) {
        text.textContent = label;
        /** @type {HTMLElement} */ (item.querySelector('button')).setAttribute('aria-label', t('video.thumb.show', { name: label }));
      }
      show(/** @type {HTMLVideoElement} */ (item.querySelector('video')), picture.stream);
      this.parts.list.append(item); // keeps the order of arrival
    }
    const some = thumbnails.length > 0;
    this.parts.list.hidden = !some;
    this.parts.container.dataset.thumbs = String(some);
    // The remote control acts on the patient's phone: only under the patient's picture.
    this.parts.container.dataset.main = !main || main === PATIENT ? PATIENT : 'other';
    return main;
  }

  /** Forget every picture (the room stops watching). */
  clear() {
    this.render([]);
  }

  /**
   * @private
   * @param {string} id
   * @returns {HTMLLIElement}
   */
  makeItem(id) {
    const item = document.createElement('li');
    item.className = 'room-thumb';
    item.dataset.publisher = id;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'room-thumb-button';
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    video.disablePictureInPicture = true;
    const name = document.createElement('span');
    name.className = 'room-thumb-name';
    button.append(video, name);
    button.addEventListener('click', () => this.choose(id));
    item.append(button);
    this.items.set(id, item);
    return item;
  }

  /** @private */
  renderLayout() {
    this.parts.container.dataset.layout = this.layout;
    const toggle = this.parts.toggle;
    toggle.textContent = t(this.layout === 'side' ? 'video.layout.inset' : 'video.layout.side');
    toggle.setAttribute('aria-pressed', String(this.layout === 'inset'));
  }
}
