/** Optimizers (AdamW, Muon/NorMuon, the composite split) and training schedules. */
export type {Optimizer, ParamGroup, ParamRef, StepOptions} from './types.js'
export {AdamW, type AdamWOptions} from './adamw.js'
export {Muon, newtonSchulz5, newtonSchulz5Flops, NS5_COEFFS, NS5_EPS, type MuonOptions, type NorMuonOptions} from './muon.js'
export {buildOptimizers, resolveOptimConfig, DEFAULT_OPTIM_CONFIG, NORMUON_EPS, type OptimConfig, type MatrixOptimizer} from './composite.js'
export {lrScale, muonMomentum, seqLenAt, shouldStop, clipGradNorm, type ScheduleConfig} from './schedule.js'
