import { z } from 'zod';

export const ManifestTarget = { kubernetes: 'kubernetes', docker: 'docker' } as const;
export type ManifestTarget = (typeof ManifestTarget)[keyof typeof ManifestTarget];

export const ManifestsQuery = z.object({
  target: z
    .enum(ManifestTarget, { error: (i) => `must be "kubernetes" or "docker", not ${JSON.stringify(i.input)}` })
    .default(ManifestTarget.kubernetes),
  release: z.coerce
    .number({ error: 'a release version, e.g. 3' })
    .int({ error: 'a release version, e.g. 3' })
    .min(1, { error: 'a release version, e.g. 3' })
    .optional()
    .meta({ description: 'Default: the current release' }),
});
export type ManifestsQuery = z.infer<typeof ManifestsQuery>;

export const ManifestsView = z
  .object({
    target: z.enum(ManifestTarget),
    release: z.number().int(),
    items: z.array(z.record(z.string(), z.unknown())).meta({
      description:
        'kubernetes: the Secrets (values masked), Deployment, Service and Ingress; docker: one v1 Pod per replica (secret values masked)',
    }),
  })
  .meta({ id: 'Manifests' });
export type ManifestsView = z.infer<typeof ManifestsView>;
