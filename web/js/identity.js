// Who the buyer is, kept in this browser's localStorage.
//   header mode: a name the buyer types, sent as X-User-Id (a trusted gateway would set it).
//   jwt mode:    the token from POST /api/v1/auth/login, sent as Authorization: Bearer; the
//                buyer is the token's subject (userId). An expired token is forgotten.

import { setBuyer } from './api.js';

const NAME_KEY = 'flashsale.buyerName';
const SESSION_KEY = 'flashsale.session';
const MAX_NAME_BYTES = 255;

function read(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled: the identity lasts as long as the page
  }
}

function write(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    /* storage disabled or full: keep it in memory only */
  }
}

export const identity = {
  mode: 'header',
  name: '',
  session: null, // {token, userId, expiresAt}

  /** Loads what this browser remembers for `mode` and hands the credentials to api.js. */
  load(mode) {
    this.mode = mode === 'jwt' ? 'jwt' : 'header';
    this.name = (read(NAME_KEY) || '').trim();
    this.session = null;
    if (this.mode === 'jwt') {
      try {
        const session = JSON.parse(read(SESSION_KEY) || 'null');
        if (session && session.token && Date.parse(session.expiresAt) > Date.now()) this.session = session;
      } catch {
        this.session = null;
      }
      if (!this.session) write(SESSION_KEY, null);
    }
    this.apply();
    return this;
  },

  apply() {
    if (this.mode === 'jwt') setBuyer({ token: this.session ? this.session.token : '' });
    else setBuyer({ userId: this.name });
  },

  /** The buyer id the server will see, or '' when there is none yet. */
  userId() {
    if (this.mode === 'jwt') return this.session ? this.session.userId : '';
    return this.name;
  },

  ready() {
    return this.userId() !== '';
  },

  /** Returns an error message, or '' when the name is acceptable (the server's X-User-Id rules). */
  checkName(name) {
    const trimmed = name.trim();
    if (!trimmed) return 'Enter a name to buy with.';
    if (new TextEncoder().encode(trimmed).length > MAX_NAME_BYTES) return 'Use at most 255 bytes.';
    if (/[\u0000-\u001f\u007f]/.test(trimmed)) return 'Use letters, digits and punctuation only.';
    return '';
  },

  setName(name) {
    this.name = name.trim();
    write(NAME_KEY, this.name || null);
    this.apply();
  },

  signIn(session) {
    this.session = { token: session.token, userId: session.userId, expiresAt: session.expiresAt };
    write(SESSION_KEY, JSON.stringify(this.session));
    this.apply();
  },

  signOut() {
    this.session = null;
    write(SESSION_KEY, null);
    this.apply();
  },
};
