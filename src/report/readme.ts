/**
 * The submission README, rendered from numbers the report computed (pure: no I/O, so golden
 * tests pin it). Shape of the best Parameter Golf write-ups: headline, per-seed results with
 * Mean and Std rows, architecture and training settings from the resolved recipe, what did not
 * work (negative results, judged against seed noise), compliance checklist, significance, the
 * command that reproduces the run, the plot.
 */
import type {ResolvedRecipe} from '../recipe/recipe.js'
import type {Verdict, Significance} from './stats.js'

export interface SeedRow {
  seed: number
  steps: number
  step_avg_ms: number
  val_loss: number
  val_bpb: number
  /** val_bpb of the model rebuilt from the artifact; null when not measured. */
  roundtrip_val_bpb: number | null
  sliding_val_bpb: number | null
  sliding_stride: number | null
  artifact_bytes: number | null
  train_time_s: number
}

export interface AblationRow {
  /** One line per changed key: `model.mlp_mult 4 → 2`. */
  change: string[]
  note: string | null
  seeds: number[]
  val_bpb: number
  baseline_val_bpb: number
  /** What Δ is against: "main seeds (mean of 3)" or a run id. */
  baseline_label: string
  delta: number
  verdict: Verdict
  basis: string
}

export type CheckStatus = 'pass' | 'fail' | 'unknown'

export interface ComplianceItem {
  name: string
  status: CheckStatus
  detail: string
}

export interface ReadmeInput {
  name: string
  author: string
  github_id: string
  blurb: string
  date: string
  track: 'record' | 'non-record'
  rows: SeedRow[]
  /** The seed whose artifact ships. */
  artifact_seed: number
  artifact_file: string
  bytes_model: number
  code_file: string
  bytes_code: number
  bytes_total: number
  limit: number
  hardware: string
  dataset: string
  tokenizer: string
  recipe: ResolvedRecipe
  params: {total: number; ternary: number; other: number}
  ablations: AblationRow[]
  /** σ the ablations are judged against (main seeds' val_bpb std), or null with one seed. */
  noise_std: number | null
  noise_floor: number
  compliance: ComplianceItem[]
  significance: Significance | null
  reproduce: {golf: string[]; counted: string[]}
  plot_file: string
  log_files: string[]
  /** Facts worth a line under the results (e.g. how the roundtrip was measured). */
  notes: string[]
}

const DASH = '—'

export function fmtBpb(x: number | null): string {
  return x === null || !Number.isFinite(x) ? DASH : x.toFixed(4)
}

function fmtSigned(x: number): string {
  return (x >= 0 ? '+' : '−') + Math.abs(x).toFixed(4)
}

/** 15,862,104 */
export function fmtInt(n: number | null): string {
  return n === null ? DASH : Math.round(n).toLocaleString('en-US')
}

function meanOf(xs: readonly (number | null)[]): number | null {
  if (xs.length === 0 || xs.some((x) => x === null)) return null
  return (xs as number[]).reduce((a, b) => a + b, 0) / xs.length
}

function stdOf(xs: readonly (number | null)[]): number | null {
  if (xs.length < 2 || xs.some((x) => x === null)) return null
  const m = meanOf(xs)!
  return Math.sqrt((xs as number[]).reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1))
}

function mdTable(header: string[], rows: string[][], align: Array<'l' | 'r'>): string {
  const sep = align.map((a) => (a === 'r' ? '---:' : '---'))
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n')
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** The per-seed table with its Mean and Std rows. */
export function seedTable(rows: readonly SeedRow[]): string {
  const sliding = rows.some((r) => r.sliding_val_bpb !== null)
  const stride = rows.find((r) => r.sliding_stride !== null)?.sliding_stride
  const header = ['seed', 'steps', 'ms/step', 'val_bpb', 'roundtrip val_bpb', ...(sliding ? [`sliding val_bpb (stride ${stride})`] : []), 'artifact bytes']
  const cols = (r: SeedRow) => [r.steps, r.step_avg_ms, r.val_bpb, r.roundtrip_val_bpb, ...(sliding ? [r.sliding_val_bpb] : []), r.artifact_bytes]
  // counts (steps, bytes): grouped digits; their mean/std keep one decimal
  const fmtCount = (c: number, stat: boolean) => (stat ? c.toLocaleString('en-US', {minimumFractionDigits: 1, maximumFractionDigits: 1}) : fmtInt(c))
  const fmt = (c: number | null, i: number, stat: boolean): string => {
    if (c === null) return DASH
    if (i === 0) return fmtCount(c, stat)
    if (i === 1) return c.toFixed(2)
    if (i === header.length - 2) return fmtCount(c, stat)
    return fmtBpb(c)
  }
  const body = rows.map((r) => [String(r.seed), ...cols(r).map((c, i) => fmt(c, i, false))])
  const columns = cols(rows[0]).map((_, i) => rows.map((r) => cols(r)[i]))
  const statRow = (label: string, f: (xs: (number | null)[]) => number | null) => [`**${label}**`, ...columns.map((xs, i) => fmt(f(xs), i, true))]
  body.push(statRow('Mean', meanOf))
  if (rows.length >= 2) body.push(statRow('Std', stdOf))
  return mdTable(header, body, ['l', ...header.slice(1).map(() => 'r' as const)])
}

/** The negative-results table. */
export function ablationTable(rows: readonly AblationRow[]): string {
  const header = ['change', 'seeds', 'val_bpb', 'baseline', 'Δ val_bpb', 'verdict', 'judged by']
  const body = rows.map((a) => [
    escapeCell(a.change.length ? a.change.map((c) => `\`${c}\``).join('<br>') : '(no config change)') + (a.note ? `<br>${escapeCell(a.note)}` : ''),
    a.seeds.join(', '),
    fmtBpb(a.val_bpb),
    `${fmtBpb(a.baseline_val_bpb)} (${escapeCell(a.baseline_label)})`,
    fmtSigned(a.delta),
    a.verdict === 'no measurable effect' ? a.verdict : `**${a.verdict}**`,
    escapeCell(a.basis),
  ])
  return mdTable(header, body, ['l', 'l', 'r', 'r', 'r', 'l', 'l'])
}

function architecture(r: ResolvedRecipe, params: ReadmeInput['params']): string[] {
  const m = r.model
  const q = r.quant
  const o = r.optim
  const t = r.train
  const layers = m.unique_blocks * m.loops
  const headDim = m.model_dim / m.num_heads
  const pct = (n: number) => (params.total > 0 ? ` (${((100 * n) / params.total).toFixed(1)}%)` : '')
  const on = (b: boolean) => (b ? 'on' : 'off')
  const warmdown = t.warmdown_iters !== null ? `last ${t.warmdown_iters} steps` : t.warmdown_frac !== null ? `last ${(t.warmdown_frac * 100).toFixed(0)}% of the run` : 'none'
  return [
    `- **Model**: ${layers} layers (${m.unique_blocks} unique block${m.unique_blocks === 1 ? '' : 's'} × ${m.loops} loop${m.loops === 1 ? '' : 's'}), width ${m.model_dim}, ${m.num_heads} heads (head dim ${headDim}) with ${m.num_kv_heads} KV heads, MLP ×${m.mlp_mult}, vocabulary ${m.vocab_size}` +
      `${m.embed_dim !== null ? `, factored embedding ${m.embed_dim}` : ''}, ${m.tie_embeddings ? 'tied' : 'untied'} embeddings, logit soft-cap ${m.logit_softcap ?? 'off'}, RoPE base ${m.rope_base}, QK-norm ${on(m.qk_norm)}, U-Net skips ${on(m.unet_skips)}, x0 mix ${on(m.x0_mix)}.`,
    `- **Parameters**: ${fmtInt(params.total)} total — ${fmtInt(params.ternary)} ternary${pct(params.ternary)}, ${fmtInt(params.other)} other${pct(params.other)}.`,
    q.mode === 'ternary'
      ? `- **Quantizer**: ternary (BitNet b1.58 absmean) on ${q.targets.map((p) => `\`${p}\``).join(', ')}; groups of ${q.group_size}, ${q.scale_format} scales, zero correction ${on(q.zero_correction)}, ternary from ${q.start_frac === 0 ? 'the first step' : `${(q.start_frac * 100).toFixed(0)}% of the run`}; other tensors stored as ${q.float_format} (simulated in training).`
      : `- **Quantizer**: none (float baseline); tensors stored as ${q.float_format}.`,
    `- **Optimizer**: ${o.matrix_optimizer} for block matrices (lr ${o.matrix_lr}${o.matrix_optimizer !== 'adamw' ? `, momentum ${o.muon_momentum_warmup_start} → ${o.muon_momentum} over ${o.muon_momentum_warmup_steps} steps, ${o.muon_ns_steps} Newton–Schulz steps` : ''}); Adam for embeddings (lr ${o.embed_lr}) and scalars (lr ${o.scalar_lr}), β = (${o.beta1}, ${o.beta2}); weight decay ${o.weight_decay}; grad clip ${o.grad_clip ?? 'off'}.`,
    `- **Schedule**: ${fmtInt(t.batch_tokens)} tokens per step (micro-batches of ${fmtInt(t.micro_batch_tokens)}), sequence length ${t.seq_len}${t.seq_len_start !== null ? ` (grown from ${t.seq_len_start} over ${t.seq_len_warmup_steps} steps)` : ''}, at most ${fmtInt(t.max_steps)} steps${t.max_wallclock_seconds !== null ? ` or ${t.max_wallclock_seconds} s of training (warmdown timed to end at the cap)` : ''}; linear warmup ${t.warmup_steps} steps, linear warmdown over the ${warmdown}${t.z_loss > 0 ? `; z-loss ${t.z_loss}` : ''}.`,
    `- **Evaluation**: ${r.eval.val_tokens === null ? 'the whole validation split' : `the first ${fmtInt(r.eval.val_tokens)} validation tokens`}, sequence length ${t.seq_len}${r.eval.sliding_stride !== null ? `, plus a sliding window with stride ${r.eval.sliding_stride}` : ''}.`,
  ]
}

const STATUS: Record<CheckStatus, string> = {pass: '✅', fail: '❌', unknown: '❔'}

export function renderReadme(d: ReadmeInput): string {
  const vals = d.rows.map((r) => r.val_bpb)
  const m = meanOf(vals)!
  const s = stdOf(vals)
  const maxArtifact = Math.max(...d.rows.map((r) => r.artifact_bytes ?? 0), d.bytes_model)
  const maxTrain = Math.max(...d.rows.map((r) => r.train_time_s))
  const out: string[] = []
  out.push(`# ${d.name}`, '')
  out.push(
    `**val_bpb ${fmtBpb(m)}${s !== null ? ` ± ${fmtBpb(s)}` : ''}** (mean${s !== null ? ' ± std' : ''} over ${d.rows.length} seed${d.rows.length === 1 ? '' : 's'}) · ` +
      `**${fmtInt(d.bytes_total)} bytes** total (artifact ≤ ${fmtInt(maxArtifact)} + code ${fmtInt(d.bytes_code)}, limit ${fmtInt(d.limit)}) · ` +
      `${d.hardware} · ${maxTrain.toFixed(1)} s training wall-clock (longest seed)`,
    '',
  )
  if (d.blurb) out.push(d.blurb, '')
  out.push(`Author: ${d.author} (@${d.github_id}) · ${d.date} · track: ${d.track} · data: ${d.dataset} (${d.tokenizer})`, '')

  out.push('## Results', '')
  out.push(seedTable(d.rows), '')
  out.push(
    `The artifact shipped here (\`${d.artifact_file}\`, ${fmtInt(d.bytes_model)} bytes) is seed ${d.artifact_seed}'s. ` +
      `Logs: ${d.log_files.map((f) => `[\`${f}\`](${f})`).join(', ')}.`,
  )
  for (const n of d.notes) out.push('', n)
  out.push('', `![val_bpb and train loss against step](${d.plot_file})`, '')

  out.push('## Architecture and training', '')
  out.push(`Generated from the resolved recipe \`${d.recipe.name}\`${d.recipe.description ? ` (${d.recipe.description})` : ''}.`, '')
  out.push(...architecture(d.recipe, d.params), '')

  out.push('## What did not work (negative results)', '')
  if (d.ablations.length === 0) {
    out.push('No ablation runs were given (train one with `golf train --baseline <run>` and pass it to `--runs`).', '')
  } else {
    out.push(ablationTable(d.ablations), '')
    out.push(
      d.noise_std !== null
        ? `Δ is the ablation's mean val_bpb minus its baseline's (positive = worse). Seed-to-seed noise: σ = ${fmtBpb(d.noise_std)} bpb over the ${d.rows.length} main seeds; a single-seed ablation counts as an effect only when |Δ| > 2σ, one with several seeds by a two-sided Welch t-test at p < 0.05. The change is computed from the runs' resolved configs, not typed by hand.`
        : `Δ is the ablation's mean val_bpb minus its baseline's (positive = worse). With one main seed there is no noise estimate: an effect counts only when |Δ| exceeds a floor of ${d.noise_floor} bpb; run more seeds to judge properly. The change is computed from the runs' resolved configs.`,
      '',
    )
  }

  out.push('## Compliance', '')
  for (const c of d.compliance) out.push(`- ${STATUS[c.status]} **${c.name}** — ${c.detail}`)
  out.push('')

  out.push('## Significance', '')
  out.push(d.significance ? d.significance.statement : 'No `--sota` was given, so no record claim is tested.', '')
  if (d.significance && !/fineweb/i.test(d.dataset)) {
    out.push(`Caveat: these runs were evaluated on ${d.dataset}, not the official FineWeb validation split, so a comparison with a leaderboard val_bpb is not like for like.`, '')
  }
  if (d.significance) {
    out.push(
      `Method: the SOTA val_bpb is converted to nats with these runs' own ratio val_loss / val_bpb = ${d.significance.nats_per_bpb.toFixed(6)} (ln 2 × bytes per token of the validation split); ` +
        `a one-sided Welch t-test (against a constant: the one-sample t with n − 1 degrees of freedom) of the seeds' val_loss tests H0: mean ≥ SOTA − 0.005 nats; p < 0.01 is needed for a record.`,
      '',
    )
  }

  out.push('## Reproduce', '')
  out.push('With golf:', '', '```sh', ...d.reproduce.golf, '```', '')
  out.push(`With the counted code alone (\`${d.code_file}\`, ${fmtInt(d.bytes_code)} bytes; npm dependencies as in golf's package.json):`, '', '```sh', ...d.reproduce.counted, '```', '')
  return out.join('\n')
}
