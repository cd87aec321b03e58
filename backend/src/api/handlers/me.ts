import { authOf, findProject, projectSlugOf, roleIn } from '../../auth/caller.js';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import type { Handler } from '../routes.js';

/** Who the caller is and their role in the project (`?project=`, default the configured one); the plugin shows or hides actions by it. */
export const getMe = (ctx: ApiContext): Handler => async (req, res) => {
  const { caller } = authOf(res);
  const slug = projectSlugOf(ctx, req);
  const project = await findProject(ctx, slug);
  if (!project) throw notFound(`project '${slug}'`, 'PROJECT_NOT_FOUND');
  const role = await roleIn(ctx, caller, project);
  const user = caller.kind === 'user'
    ? { login: caller.user.login, name: caller.user.name, email: caller.user.email }
    : { login: `token:${caller.tokenId}`, name: caller.name, email: null };
  res.json({
    user,
    // Its name only to those with a role there: the slug is what the caller already gave.
    project: { slug: project.slug, name: role ? project.name : null },
    role,
    grafanaRole: caller.kind === 'user' ? caller.user.orgRole : null,
    isGrafanaAdmin: caller.kind === 'user' && caller.user.isGrafanaAdmin,
  });
};
