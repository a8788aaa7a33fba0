import { startMoto } from '../harness/moto';
import { scale } from './scale';
void (async () => {
  const moto = await startMoto();
  try {
    for (const run of JSON.parse(process.argv[2]!)) {
      const row = await scale(moto, run);
      console.log(JSON.stringify(row));
    }
  } finally {
    await moto.stop();
  }
})();
