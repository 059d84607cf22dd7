// Type-checked (tsc --strict) against the TypeScript client generated from the served document
// (run.py writes the client to ./generated next to a copy of this file). Each line states what
// a client must be able to rely on; the @ts-expect-error lines fail the check if the document
// loses an enum and lets any string through.
import type {
  AuditEvent,
  ListAuditData,
  ListUsersData,
  LoginErrors,
  LogoutData,
  LoginResponses,
  MfaChallenge,
  SessionGrant,
  SessionView,
  User,
} from "./generated/types.gen";

type Query<T extends { query?: unknown }> = NonNullable<T["query"]>;
type IsRequired<T, K extends keyof T> = {} extends Pick<T, K> ? false : true;

// Login's 403 of a disabled account is a declared error.
export const disabled: LoginErrors[403] = { detail: "Account disabled" };
// Always sent (null when the session was never refreshed), so a required key.
export const refreshedIsRequired: IsRequired<SessionView, "refreshed"> = true;
export const scope: Query<LogoutData>["scope"] = "others";
// @ts-expect-error a scope the server refuses
export const unknownScope: Query<LogoutData>["scope"] = "all";
export const sort: Query<ListUsersData>["sort"] = "-created";
// @ts-expect-error a sort the server refuses
export const unknownSort: Query<ListUsersData>["sort"] = "email";
export const action: Query<ListAuditData>["action"] = "login.failed";
// @ts-expect-error an action the server never records
export const unknownAction: AuditEvent["action"] = "login";
export const reason: AuditEvent["detail"]["reason"] = "disabled";
// @ts-expect-error a key no event's detail has
export const unknownDetail: AuditEvent["detail"] = { password: "x" };
// Every user object says whether its second factor is on.
export const mfaEnabledIsRequired: IsRequired<User, "mfaEnabled"> = true;
// A login answers a session, or the token of the second step: a client must handle both.
export const either = (answer: LoginResponses[200]): string =>
  "mfaToken" in answer ? (answer as MfaChallenge).mfaToken : (answer as SessionGrant).token;
// @ts-expect-error a login's answer is not always a session
export const alwaysASession: SessionGrant = {} as LoginResponses[200];
