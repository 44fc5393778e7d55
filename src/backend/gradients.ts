/**
 * Gradient registration for `@tensorflow/tfjs-core` under Node ESM.
 *
 * Why this file exists: tfjs-core's Node entry (`dist/tf-core.node.js`, what `import * as tf
 * from '@tensorflow/tfjs-core'` resolves to) holds the ops but NOT their gradients; the
 * umbrella package `@tensorflow/tfjs` registers them by importing
 * `@tensorflow/tfjs-core/dist/register_all_gradients.js`. That file is ES-module source with
 * extensionless relative imports (`./gradients/Abs_grad`), which Node's ESM loader refuses. So
 * we let esbuild (a dependency) bundle it in memory and import the bundle from a `data:` URL.
 *
 * The bundle carries its own copy of tfjs-core's modules, which is harmless: the engine, the
 * kernel registry and the gradient registry live on the global namespace
 * (`getGlobalNamespace()._tfengine`, `_tfGlobals`), and `Tensor` uses a duck-typed
 * `Symbol.hasInstance`, so the copy registers into the very registry our `tf` reads and
 * accepts our tensors. Cost: ~0.25 s once per process.
 */
import {createRequire} from 'node:module'
import * as tf from '@tensorflow/tfjs-core'

let registering: Promise<void> | undefined

/** True when gradients are already registered (e.g. `@tensorflow/tfjs-node` brought them). */
export function gradientsRegistered(): boolean {
  return tf.getGradient('Sum') !== undefined && tf.getGradient('BatchMatMul') !== undefined
}

/** Register every tfjs-core gradient once per process (no-op if already present). */
export function registerAllGradients(): Promise<void> {
  if (gradientsRegistered()) return Promise.resolve()
  registering ??= (async () => {
    const require = createRequire(import.meta.url)
    const entry = require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js')
    const esbuild = await import('esbuild')
    const out = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      minify: true,
      logLevel: 'silent',
    })
    const code = out.outputFiles[0].text
    await import('data:text/javascript;base64,' + Buffer.from(code).toString('base64'))
    if (!gradientsRegistered()) throw new Error('registering tfjs gradients failed: the gradient registry is still empty')
  })()
  return registering
}
