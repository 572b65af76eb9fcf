/**
 * Ownership labels. The platform only ever stops, removes or changes objects
 * that carry `managed=true`; everything else on the host is left alone.
 */
export const LABEL_PREFIX = 'sidecar.paas';
export const Labels = {
  managed: `${LABEL_PREFIX}/managed`,
  app: `${LABEL_PREFIX}/app`,
  release: `${LABEL_PREFIX}/release`,
  pod: `${LABEL_PREFIX}/pod`,
  container: `${LABEL_PREFIX}/container`,
  role: `${LABEL_PREFIX}/role`,
  kind: `${LABEL_PREFIX}/kind`,
  deploy: `${LABEL_PREFIX}/deploy`,
  /** On a logic-base image (and the logic images built from it): the port its loader listens on once the logic is in place. */
  loaderPort: `${LABEL_PREFIX}/loader-port`,
} as const;
