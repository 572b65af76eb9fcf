/**
 * The API token lives in sessionStorage: it lasts for this browser tab's
 * session only and is gone when the tab closes or the user signs out.
 */
const KEY = 'sidecar.token';

export const session = {
  token(): string | null {
    return sessionStorage.getItem(KEY);
  },
  signIn(token: string): void {
    sessionStorage.setItem(KEY, token);
  },
  signOut(): void {
    sessionStorage.removeItem(KEY);
  },
};
