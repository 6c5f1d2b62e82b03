// The older majors are installed under npm aliases for side-by-side tests.
declare module 'express4' {
  import express from 'express';
  export = express;
}
declare module 'koa2' {
  import Koa from 'koa';
  export = Koa;
}
