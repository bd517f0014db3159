import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from './constants';

/** Typed search attribute keys (registered by `npm start`, manifests and the test servers). */
export const TenantIdKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.tenant, SearchAttributeType.KEYWORD);
export const ModelKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.model, SearchAttributeType.KEYWORD);
export const InferenceStatusKey = defineSearchAttributeKey(
  SEARCH_ATTRIBUTES.status,
  SearchAttributeType.KEYWORD,
);

/** `--search-attribute` values for `temporal server start-dev` and the test servers. */
export const SEARCH_ATTRIBUTE_REGISTRATIONS: Record<string, 'Keyword'> = {
  [SEARCH_ATTRIBUTES.tenant]: 'Keyword',
  [SEARCH_ATTRIBUTES.model]: 'Keyword',
  [SEARCH_ATTRIBUTES.status]: 'Keyword',
};
