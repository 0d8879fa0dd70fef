/**
 * Validation of what the Mastodon stand-in is given, shared by the in-process API and the
 * /_sandbox endpoints: Mastodon's own rules where it has them (usernames, accts), sane bounds
 * elsewhere.
 */

import { z } from "zod";
import {
  DropFaultSchema,
  FaultHeadersSchema,
  FaultPathSchema,
  HangFaultSchema,
  StatusFaultSchema,
} from "./http-pipeline.js";

/** Account::USERNAME_RE, local usernames are at most 30 characters. */
export const Username = z
  .string()
  .max(30)
  .regex(/^[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?$/i, "not a valid Mastodon username");
export const Acct = z
  .string()
  .regex(/^@?[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?(@[a-z0-9.-]+(:\d+)?)?$/i, "not user or user@host");
export const RemoteAcct = z
  .string()
  .regex(/^@?[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?@[a-z0-9.-]+(:\d+)?$/i, "not user@host");
export const Count = z.number().int().min(0).max(1_000_000);
const Window = z.object({
  limit: z.number().int().min(0),
  windowMs: z.number().int().positive(),
});
export const RateLimitSchema = Window.extend({
  perUser: Window.optional(),
  paging: Window.optional(),
  appRegistrations: Window.optional(),
});
export const ScopesSchema = z.array(z.string().regex(/^[a-z:_]+$/)).min(1);

export const AddAccountSchema = z.object({
  username: Username,
  displayName: z.string().max(30).optional(),
  locked: z.boolean().optional(),
  hideCollections: z.boolean().optional(),
  discoverable: z.boolean().optional(),
  bot: z.boolean().optional(),
  note: z.string().optional(),
});
export const RemoteAccountSchema = z.object({
  displayName: z.string().optional(),
  locked: z.boolean().optional(),
  bot: z.boolean().optional(),
  discoverable: z.boolean().nullable().optional(),
  hideCollections: z.boolean().nullable().optional(),
  followersCount: Count.optional(),
  followingCount: Count.optional(),
  statusesCount: Count.optional(),
});
export const FollowOptionsSchema = z.object({
  showReblogs: z.boolean().optional(),
  notify: z.boolean().optional(),
  languages: z
    .array(z.string().regex(/^[a-z]{2,3}(-[A-Za-z]+)?$/))
    .nullable()
    .optional(),
  pending: z.boolean().optional(),
});
export const SeedOptionsSchema = z.object({
  domains: z
    .array(z.string().regex(/^[a-z0-9.-]+$/))
    .min(1)
    .optional(),
});
export const FaultSchema = z
  .union([StatusFaultSchema.extend(FaultHeadersSchema.shape), HangFaultSchema, DropFaultSchema])
  .and(FaultPathSchema);
export const OptionsSchema = z.object({
  port: z.number().int().min(0).max(65535).optional(),
  domain: z
    .string()
    .regex(/^[a-z0-9.-]+(:\d+)?$/i)
    .optional(),
  version: z
    .string()
    .regex(/^\d+\.\d+\.\d+/)
    .optional(),
  rateLimit: RateLimitSchema.nullable().optional(),
  maxCharacters: z.number().int().positive().optional(),
  applicationsVacuum: z.boolean().optional(),
  authorizedFetch: z.boolean().optional(),
  closedApi: z
    .union([z.literal(false), z.enum(["unauthenticated", "limited-federation"])])
    .optional(),
});

export const DomainName = z.string().regex(/^[a-z0-9.-]+\.[a-z0-9-]+(:\d+)?$/i, "not a domain");
export const StatusUri = z.url();
/** List#title */
export const ListTitle = z.string().min(1).max(30);
export const MuteOptionsSchema = z.object({
  hideNotifications: z.boolean().optional(),
  expiresIn: z.number().int().positive().optional(),
});
export const ListOptionsSchema = z.object({
  repliesPolicy: z.enum(["followed", "list", "none"]).optional(),
  exclusive: z.boolean().optional(),
});
export const BookmarkOptionsSchema = z.object({
  author: RemoteAcct.optional(),
  content: z.string().optional(),
  url: z.string().nullable().optional(),
});
export const SnapshotSeedSchema = z.object({
  lists: z
    .union([
      Count,
      z.array(
        ListOptionsSchema.extend({
          title: ListTitle,
          members: z.union([z.array(Acct), Count]).optional(),
        }),
      ),
    ])
    .optional(),
  blocks: z.union([Count, z.array(Acct)]).optional(),
  mutes: z
    .union([Count, z.array(z.union([Acct, MuteOptionsSchema.extend({ acct: Acct })]))])
    .optional(),
  domainBlocks: z.union([Count, z.array(DomainName)]).optional(),
  bookmarks: z.union([Count, z.array(StatusUri)]).optional(),
  domains: z
    .array(z.string().regex(/^[a-z0-9.-]+$/))
    .min(1)
    .optional(),
});

/** Where generated accounts live unless the seeding call names domains. */
export const DEFAULT_DOMAINS = [
  "mastodon.example",
  "fosstodon.example",
  "hachyderm.example",
  "mstdn.example",
  "kolektiva.example",
  "social.example",
];
