/**
 * The repository variables of one app: its state and its deploy lock. Their names are derived here
 * and nowhere else, so that two apps never share them. App names are lowercase letters, digits and
 * `-` (settings refuse any other name, see appNameClash), which this maps one-to-one.
 */
export interface AppVariables {
  /** Records the live color, releases, the last phase and history: `BLUEGREEN_SHOP_API`. */
  state: string;
  /** Held by the run in progress: the state variable's name with `_LOCK`. */
  lock: string;
}

export const LOCK_SUFFIX = '_LOCK';

/** `shop-api` -> `BLUEGREEN_SHOP_API` and `BLUEGREEN_SHOP_API_LOCK`; `stateVariable` (the input) wins when given. */
export function appVariables(appName: string, stateVariable?: string): AppVariables {
  const state = stateVariable ? stateVariable.toUpperCase() : `BLUEGREEN_${appName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  return { state, lock: `${state}${LOCK_SUFFIX}` };
}

/** Lowercase letters, digits and `-`, starting with a letter or digit, at most 64 characters. */
export const APP_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * Why an app name would share its variables with another app, or undefined when it cannot. Upper
 * case, `_` and `.` all map to the same variable name as a lowercase `-` name would; a name ending
 * in `-lock` would make its state variable another app's lock.
 */
export function appNameClash(appName: string): string | undefined {
  const { state } = appVariables(appName);
  const twin = appName.toLowerCase().replace(/[^a-z0-9]/g, '-');
  if (/[A-Z_.]/.test(appName) && APP_NAME_PATTERN.test(twin)) {
    return `'${appName}' would share the state variable ${state} and its deploy lock with app \`${twin}\``;
  }
  if (APP_NAME_PATTERN.test(appName) && appName.endsWith('-lock')) {
    return `'${appName}' would keep its state in ${state}, the deploy lock of app \`${appName.slice(0, -'-lock'.length)}\``;
  }
  return undefined;
}
