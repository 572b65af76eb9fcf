export { gitApiRoutes } from './git-api.routes.js';
export { gitRoutes } from './git.routes.js';
export { type GitSettings, gitSettingsFrom } from './git-settings.js';
export { GitRepos } from './repos.js';
