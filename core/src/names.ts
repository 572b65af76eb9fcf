import { DomainError, ErrorCode } from './errors.js';

/** DNS-1123 label, 1–30 characters (API.md "App names"). */
export const APP_NAME_PATTERN = /^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$/;

export function isValidAppName(name: unknown): name is string {
  return typeof name === 'string' && APP_NAME_PATTERN.test(name);
}

export function assertAppName(name: unknown): string {
  if (!isValidAppName(name)) {
    throw new DomainError(
      ErrorCode.invalidName,
      `invalid app name ${JSON.stringify(name)}: use 1-30 lowercase letters, digits and '-', starting with a letter and not ending with '-'`,
    );
  }
  return name;
}
