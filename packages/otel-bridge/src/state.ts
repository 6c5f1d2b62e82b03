/**
 * The state every copy of the bridge in a process must share: the ESM build
 * imported by an app and the CommonJS build required by an OpenTelemetry setup
 * preloaded with `--require` are two module instances, and a baggage mapping
 * declared in one must be seen by `extractTraceContext` called from the other.
 *
 * It lives on `globalThis` under a `Symbol.for` key that carries the protocol
 * number, as the core's runtime does: copies whose layout differs keep their own.
 *
 * @module
 */
import { ContextVar } from '@contextvars/core';
import type { Context as OtelContext } from '@opentelemetry/api';

/** Bump when the fields below change. */
const PROTOCOL = 1;

interface BridgeState {
  readonly protocol: number;
  /** Baggage key → var, from every `baggageVars` mapping. */
  readonly baggageVars: Map<string, ContextVar<unknown>>;
  /**
   * The trace context `extractTraceContext` found on the incoming request, for the
   * rest of the request's Context, where no OpenTelemetry context is bound.
   */
  readonly incomingContext: ContextVar<OtelContext>;
}

const KEY = Symbol.for(`@contextvars/otel-bridge:state:${PROTOCOL}`);
const holder = globalThis as { [KEY]?: BridgeState };

holder[KEY] ??= {
  protocol: PROTOCOL,
  baggageVars: new Map(),
  incomingContext: new ContextVar<OtelContext>('otel.incomingContext'),
};

const state: BridgeState = holder[KEY];

/** See {@link BridgeState.baggageVars}. */
export const baggageRegistry = state.baggageVars;

/** See {@link BridgeState.incomingContext}. */
export const incomingContext = state.incomingContext;
