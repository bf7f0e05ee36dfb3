// Baseline: a Fastify 5 route protected by jose's jwtVerify on every request (HS256, the same checks
// of issuer, audience and type as inkgate makes), answering the token's subject. No session check.
import Fastify from 'fastify';
import { jwtVerify } from 'jose';

const secret = new TextEncoder().encode(process.env.JWT_SECRET);
const app = Fastify({ logger: false });
app.get('/', async () => ({ ready: true }));
app.get('/me', async (request, reply) => {
  const token = request.headers.authorization?.replace(/^Bearer /i, '') ?? '';
  try {
    const { payload } = await jwtVerify(token, secret, {
      algorithms: ['HS256'],
      issuer: process.env.ISSUER,
      audience: 'inkgate',
      typ: 'at+jwt',
    });
    return { id: payload.sub };
  } catch {
    return reply.code(401).send({ error: 'invalid_token' });
  }
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
