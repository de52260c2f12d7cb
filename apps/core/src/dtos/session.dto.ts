import { z } from 'zod';

/**
 * The portal's login form, `principal=…&password=…` as application/x-www-form-urlencoded (what Harbor's portal
 * sends), or the same two fields as JSON.
 */
export const LoginForm = z
  .object({
    principal: z.string().min(1, 'is required').max(255),
    password: z.string().min(1, 'is required').max(1024),
  })
  .meta({ id: 'LoginForm' });
export type LoginForm = z.infer<typeof LoginForm>;
