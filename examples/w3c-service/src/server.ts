import { buildService } from './service.js';

const app = await buildService();
const port = Number(process.env.PORT ?? 5000);
await app.listen({ port, host: '127.0.0.1' });
console.log(`W3C test service on http://127.0.0.1:${port}/test`);
