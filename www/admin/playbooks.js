// Ready-made playbooks (DOMAIN.md), example shoppers for the preview, and
// the attribute contract the audience builder offers (crates/engine/src/attributes.rs).

const LIFECYCLE = ["new", "active", "loyal", "vip", "at_risk", "dormant"];

/** Attributes a rule can use: path, kind, and the values an enum offers. */
export const ATTRIBUTES = [
  { path: "lifecycle", kind: "enum", values: LIFECYCLE },
  { path: "visits", kind: "number" },
  { path: "sessions", kind: "number" },
  { path: "days_since_last_visit", kind: "number" },
  { path: "days_since_last_purchase", kind: "number" },
  { path: "p_alive", kind: "number" },
  { path: "expected_orders_90d", kind: "number" },
  { path: "clv_90d", kind: "number" },
  { path: "orders", kind: "number" },
  { path: "revenue", kind: "number" },
  { path: "aov", kind: "number" },
  { path: "rfm.r", kind: "number" },
  { path: "rfm.f", kind: "number" },
  { path: "rfm.m", kind: "number" },
  { path: "cart.items", kind: "number" },
  { path: "cart.value", kind: "number" },
  { path: "cart.abandoned", kind: "bool" },
  { path: "affinity", kind: "list" },
  { path: "price_sensitivity", kind: "number" },
  { path: "viewed_without_buying", kind: "number" },
  { path: "long_dwell_without_purchase", kind: "bool" },
  { path: "usual_hour", kind: "number" },
  { path: "lifecycle_previous", kind: "enum", values: LIFECYCLE },
  { path: "birthday_this_month", kind: "bool" },
  { path: "bought_a_year_ago", kind: "list" },
  { path: "campaigns.*.days_since_seen", kind: "number" },
  { path: "campaigns.*.days_since_clicked", kind: "number" },
  { path: "campaigns.*.days_since_claimed", kind: "number" },
  { path: "campaigns.*.converted", kind: "bool" },
  { path: "declared.tier", kind: "string" },
  { path: "declared.points", kind: "number" },
  { path: "declared.birthday_month", kind: "number" },
  { path: "points_expire_in_days", kind: "number" },
  { path: "declared.points_expiring", kind: "number" },
  { path: "page.type", kind: "string" },
  { path: "page.path", kind: "string" },
  { path: "page.url", kind: "string" },
  { path: "page.search", kind: "string" },
  { path: "page.referrer", kind: "string" },
  { path: "page.category", kind: "string" },
  { path: "device", kind: "enum", values: ["mobile", "tablet", "desktop"] },
  { path: "locale", kind: "string" },
  { path: "consent", kind: "enum", values: ["unknown", "granted", "denied"] },
  { path: "utm.source", kind: "string" },
  { path: "utm.medium", kind: "string" },
  { path: "utm.campaign", kind: "string" },
  { path: "utm.term", kind: "string" },
  { path: "utm.content", kind: "string" },
  { path: "local_hour", kind: "number" },
  { path: "weekday", kind: "number" },
  { path: "month", kind: "number" },
  { path: "day", kind: "number" },
];

/** Operators per attribute kind (GrowthBook condition semantics). */
export const OPERATORS = {
  number: ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$exists"],
  string: ["$eq", "$ne", "$in", "$nin", "$regex", "$exists"],
  enum: ["$eq", "$ne", "$in", "$nin"],
  bool: ["$eq", "$ne"],
  list: ["$in", "$nin", "$all", "$size"],
};

const banner = (headline, body, cta, url, theme = "accent") => ({
  type: "banner", theme, headline, body, cta: { text: cta, url },
});

/** Each playbook makes a complete draft; the marketer adjusts and saves it. */
export const PLAYBOOKS = [
  {
    key: "welcome", type: "banner",
    campaign: {
      id: "welcome-new", name: "Welcome for new visitors", priority: 12,
      condition: { lifecycle: "new" }, caps: { per_session: 1, per_day: 2 },
      variants: [{ id: "a", content: banner("Welcome! Here is what's new", "Free shipping on your first order over ₩30,000.", "See new arrivals", "/demo/category.html") }],
    },
  },
  {
    key: "winback", type: "coupon",
    campaign: {
      id: "win-back", name: "Win back dormant shoppers", priority: 25,
      condition: { lifecycle: { $in: ["dormant", "at_risk"] } }, caps: { per_day: 1, lifetime: 3 }, holdout: 0.1,
      coupon: { budget: 500, valid_days: 14, prefix: "COMEBACK" },
      variants: [{ id: "a", content: { type: "coupon", headline: "We missed you, {{declared.name | \"friend\"}}", value: "15% off your next order", reveal: "Get my code", terms: "One use, 14 days." } }],
    },
  },
  {
    key: "price", type: "coupon",
    campaign: {
      id: "tailored-coupon", name: "Coupon for the price-hesitant", priority: 30,
      condition: { $or: [{ price_sensitivity: { $gte: 0.5 } }, { viewed_without_buying: { $gte: 1 } }] },
      caps: { per_session: 2, per_day: 3 }, holdout: 0.1,
      coupon: { budget: 1000, valid_days: 7, prefix: "PICK" },
      variants: [{ id: "a", content: { type: "coupon", headline: "Still deciding? This helps", value: "₩5,000 off over ₩50,000", reveal: "Show my code", terms: "One use per shopper, 7 days." } }],
    },
  },
  {
    key: "cart", type: "banner",
    campaign: {
      id: "cart-nudge", name: "Abandoned-cart reminder", priority: 20,
      condition: { "cart.items": { $gt: 0 }, "cart.abandoned": true }, caps: { per_session: 1, per_day: 2 },
      variants: [{ id: "a", content: banner("Your cart is waiting", "{{cart.items}} item(s), {{cart.value | currency}}. Complete your order before they sell out.", "Back to my cart", "/demo/cart.html", "dark") }],
    },
  },
  {
    key: "vip", type: "banner",
    campaign: {
      id: "vip-reward", name: "VIP reward", priority: 40,
      condition: { $or: [{ lifecycle: "vip" }, { "declared.tier": "vip" }] }, caps: { per_day: 1 },
      variants: [{ id: "a", content: banner("VIP early access", "Thank you, {{declared.name | \"valued member\"}}: the new season opens to you a day early.", "Shop early", "/demo/category.html", "dark") }],
    },
  },
  {
    key: "birthday", type: "coupon",
    campaign: {
      id: "birthday-month", name: "Birthday month benefit", priority: 35,
      condition: { birthday_this_month: true }, caps: { lifetime: 1 },
      coupon: { budget: 1000, valid_days: 30, prefix: "BDAY" },
      variants: [{ id: "a", content: { type: "coupon", headline: "Happy birthday month, {{declared.name | \"friend\"}}!", value: "₩10,000 off", reveal: "Open my gift", terms: "Valid this month." } }],
    },
  },
  {
    key: "first", type: "coupon",
    campaign: {
      id: "first-purchase", name: "First-purchase coupon for members", priority: 28,
      condition: { "declared.tier": { $exists: true }, orders: 0 }, caps: { per_day: 1, lifetime: 3 },
      coupon: { budget: 1000, valid_days: 14, prefix: "FIRST" },
      variants: [{ id: "a", content: { type: "coupon", headline: "Welcome aboard, {{declared.name | \"friend\"}}: your first order is on us", value: "₩5,000 off your first order", reveal: "Get my code", terms: "One use, 14 days." } }],
    },
  },
  {
    key: "second", type: "banner",
    campaign: {
      id: "second-purchase", name: "Second purchase within a month", priority: 22,
      condition: { orders: 1, days_since_last_purchase: { $gte: 3, $lte: 30 } }, caps: { per_day: 1, lifetime: 4 },
      variants: [{ id: "a", content: banner("Loved your first order?", "Pieces that go with it, picked for you. Free shipping on your second order.", "See what goes with it", "/demo/category.html") }],
    },
  },
  {
    key: "points", type: "banner",
    campaign: {
      id: "points-expiring", name: "Points expiring soon", priority: 32,
      condition: { points_expire_in_days: { $gte: 0, $lte: 7 }, "declared.points_expiring": { $gt: 0 } }, caps: { per_day: 1 },
      variants: [{ id: "a", content: banner("{{declared.points_expiring | number}} points expire in {{points_expire_in_days}} days", "Use them on anything in the shop before they are gone.", "Use my points", "/demo/category.html", "dark") }],
    },
  },
  {
    key: "seasonal", type: "banner",
    campaign: {
      id: "seasonal-repeat", name: "Seasonal repeat: the category bought a year ago", priority: 18,
      condition: { bought_a_year_ago: { $size: { $gt: 0 } } }, caps: { per_day: 1, lifetime: 3 },
      variants: [{ id: "a", content: banner("Back in season: {{bought_a_year_ago.0}}", "A year ago you picked {{bought_a_year_ago.0}}. This season's pieces are in.", "See what's new", "/demo/category.html") }],
    },
  },
  {
    key: "followup", type: "banner",
    campaign: {
      id: "win-back-follow-up", name: "Follow-up: saw the win-back offer a week ago, did not buy", priority: 26,
      condition: { "campaigns.win-back.days_since_seen": { $gte: 7 }, "campaigns.win-back.converted": { $ne: true } },
      caps: { per_day: 1, lifetime: 2 },
      variants: [{ id: "a", content: banner("Still thinking it over, {{declared.name | \"friend\"}}?", "Your comeback offer is waiting, and shipping is on us this week.", "Take another look", "/demo/category.html") }],
    },
  },
  {
    key: "tier", type: "loyalty_prompt",
    campaign: {
      id: "tier-nudge", name: "Tier-progress nudge", priority: 8,
      condition: { "declared.points": { $gte: 0 } }, caps: { per_day: 1 },
      variants: [{ id: "a", content: { type: "loyalty_prompt", headline: "You're close to the next tier", body: "Earn points on every order." } }],
    },
  },
  {
    key: "feedback", type: "feedback_question",
    campaign: {
      id: "post-purchase", name: "Post-purchase feedback question", priority: 5,
      condition: { orders: { $gte: 1 } }, caps: { lifetime: 1 },
      variants: [{ id: "a", content: { type: "feedback_question", question: "How was your last order?", scale: "rating" } }],
    },
  },
];

const base = {
  page: { type: "home", path: "/demo/", url: "/demo/", search: "", referrer: "" },
  device: "desktop", locale: "en-US", utm: {}, consent: "granted",
  visits: 1, sessions: 1, orders: 0, revenue: 0, aov: 0,
  cart: { items: 0, value: 0, abandoned: false }, affinity: [],
  price_sensitivity: 0, viewed_without_buying: 0, declared: {},
};

/** Example shoppers, as a condition sees them. */
export const EXAMPLES = {
  new: { ...base, lifecycle: "new" },
  vip: {
    ...base, lifecycle: "vip", visits: 140, sessions: 60, days_since_last_visit: 2, orders: 18, revenue: 2400000, aov: 133000,
    rfm: { r: 5, f: 5, m: 5 }, affinity: ["knit", "coat"], declared: { name: "Jiyoung", tier: "vip", points: 6200 },
  },
  dormant: {
    ...base, lifecycle: "dormant", visits: 20, sessions: 9, days_since_last_visit: 95, orders: 2, revenue: 120000, aov: 60000,
    rfm: { r: 1, f: 2, m: 2 },
  },
  price: {
    ...base, lifecycle: "active", visits: 12, sessions: 4, days_since_last_visit: 1, price_sensitivity: 0.8, viewed_without_buying: 3,
    affinity: ["coat"],
  },
  cart: {
    ...base, lifecycle: "active", visits: 6, sessions: 2, days_since_last_visit: 0, cart: { items: 2, value: 89000, abandoned: true },
  },
};

/** The example's attributes with the clock's fields filled. */
export function exampleAttributes(key, custom) {
  const now = new Date();
  const attrs = structuredClone(key === "custom" ? custom : EXAMPLES[key]);
  attrs.local_hour ??= now.getHours();
  attrs.weekday ??= ((now.getDay() + 6) % 7) + 1;
  return attrs;
}
