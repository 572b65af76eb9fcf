import { z } from 'zod';

export const GitInfo = z
  .object({
    url: z.string().meta({ description: 'The remote to push to', examples: ['http://127.0.0.1:3000/git/hello.git'] }),
    deployBranches: z.array(z.string()).meta({ description: 'A push to one of these deploys' }),
    branches: z.array(z.object({ name: z.string(), sha: z.string() })),
  })
  .meta({ id: 'GitInfo' });
export type GitInfo = z.infer<typeof GitInfo>;

export const PatchGitBody = z
  .object({
    deployBranch: z
      .string({ error: 'give a branch name, or null for main/master' })
      .nullable()
      .meta({ description: 'The branch whose pushes deploy; null: main or master' }),
  })
  .meta({ id: 'PatchGit' });
export type PatchGitBody = z.infer<typeof PatchGitBody>;
