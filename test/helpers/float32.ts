/** x (rounded to float32) and its two float32 neighbours, the next one up and the next one down (by bit pattern). */
export function withFloat32Neighbours(x: number): [number, number, number] {
  const f = new Float32Array(1)
  const u = new Uint32Array(f.buffer)
  f[0] = x
  const b = u[0]
  u[0] = b + 1
  const up = f[0]
  u[0] = b - 1
  return [x, up, f[0]]
}
