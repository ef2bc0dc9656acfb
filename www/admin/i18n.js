// The dashboard's words in English and Korean. The language is the admin's
// choice (kept in this browser), else the browser's own.

const WORDS = {
  en: {
    title: "dangol dashboard", campaigns: "Campaigns", results: "Results", publish: "Publish",
    signOut: "Sign out", site: "Site", language: "한국어",
    status: "Status", name: "Name", type: "Type", placement: "Placement", exposures: "Exposures",
    clickRate: "Click rate", conversionRate: "Conversion rate", revenuePerShopper: "Revenue per shopper",
    actions: "Actions", edit: "Edit", pause: "Pause", resume: "Resume", delete: "Delete",
    newCampaign: "New campaign", playbooks: "Ready-made playbooks", startDraft: "Start a draft",
    st_draft: "draft", st_scheduled: "scheduled", st_live: "live", st_paused: "paused", st_ended: "ended",
    unpublishedChanges: "unpublished changes", noCampaigns: "No campaigns yet: start one from a playbook.",
    id: "Id", idHelp: "Letters, digits, - or _; it never changes.", campaignName: "Name (for people, not shown to shoppers)",
    content: "Content", contentType: "Content type", variants: "Variants", addVariant: "Add a variant",
    removeVariant: "Remove this variant", variantId: "Variant id",
    banner: "Banner", coupon: "Coupon", loyalty_prompt: "Loyalty prompt", feedback_question: "Feedback question",
    headline: "Headline", body: "Body", image: "Image URL", ctaText: "Button text", ctaUrl: "Button link",
    theme: "Theme", value: "Value (e.g. 10% off)", reveal: "Reveal button", terms: "Terms",
    question: "Question", scale: "Scale", rating: "Rating 1–5", nps: "NPS 0–10", choice: "Choices",
    choices: "Choices (one per line)", tokensHelp: "Text tokens: {{declared.name | \"there\"}}, {{cart.value | currency}}, {{declared.points | number}}",
    couponPolicy: "Coupon codes", budget: "Most codes in all", validDays: "Days a code stays valid",
    prefix: "Generated code prefix", pool: "Code pool (optional, one code per line)", uploadCodes: "Upload codes",
    poolSize: "Pool: {free} free of {total}",
    where: "Where and when", placementHelp: "Inline slots are <div data-dangol-slot=\"id\">; overlays open on their trigger.",
    newPlacement: "New overlay placement", kind: "Kind", trigger: "Trigger", addPlacement: "Add placement",
    inline: "inline slot", modal: "modal", toast: "toast", bar: "bottom bar",
    page_load: "on page load", exit_intent: "exit intent", dwell: "after seconds on the page",
    scroll: "after scrolling percent", inactivity: "after seconds without input", nth_page_view: "on the Nth page view",
    returning_with_cart: "returning with a cart", triggerValue: "Seconds, percent or N",
    schedule: "Schedule", start: "Start", end: "End", weekdays: "Weekdays (none = every day)",
    hoursFrom: "From hour", hoursTo: "To hour",
    weekdayNames: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    audience: "Audience", addRule: "Add a rule", removeRule: "Remove", everyone: "Everyone (no rule)",
    conditionJson: "Condition JSON (edit it directly; the rules follow)", conditionAdvanced: "This condition is beyond the rule builder; edit the JSON.",
    conditionInvalid: "The condition JSON is not valid: {error}",
    reach: "Reach", reachOf: "{matched} of {shoppers} shoppers of the last 30 days", reachUnknown: "Not known to the server (counted as missing): {paths}",
    estimate: "Estimate reach",
    delivery: "Delivery", caps: "Frequency caps", per_session: "Per session", per_day: "Per day", per_week: "Per week",
    lifetime: "Ever", min_gap_minutes: "Minutes between", dismiss_cooldown_hours: "Hours after a dismissal",
    stop_after_conversion: "Stop after a conversion",
    holdout: "Holdout (% kept out to measure uplift)", allocation: "Allocation", fixed: "Fixed split", bandit: "Bandit (learns the best variant)",
    weights: "Weights (%, one per variant)", minShare: "Least share per variant (%)",
    priority: "Priority (higher wins)", group: "Exclusion group", paused: "Paused (kept out of the published config)",
    save: "Save draft", saved: "Saved.", cancel: "Back to campaigns", fixProblems: "The engine refused it; fix the fields marked below.",
    preview: "Preview", example: "Example shopper", ex_new: "New visitor", ex_vip: "VIP", ex_dormant: "Dormant",
    ex_price: "Price-sensitive", ex_cart: "Cart abandoner", ex_custom: "Custom",
    customAttributes: "Custom attributes (JSON)", gets: "Gets", nothing: "nothing from this placement",
    reasons: "Decision reasons", variantPreview: "Each variant", whyShown: "Why the shopper sees it",
    r_shown: "shown ({variant})", r_not_targeted: "audience does not match", r_out_of_schedule: "outside its schedule",
    r_capped: "capped", r_pressure_limit: "pressure limit", r_holdout: "in the holdout", r_global_holdout: "in the global holdout",
    r_lost_to_priority: "lost to {winner}", r_exclusion_group: "group {group} taken by {winner}", r_needs_consent: "needs consent",
    r_no_campaigns: "no campaign names this placement",
    matches: "audience matches", noMatch: "audience does not match",
    overall: "Overall impact of personalisation", personalised: "Personalised", globalHoldout: "Global holdout",
    uplift: "Uplift", shoppers: "Shoppers", converted: "Converted", variant: "Variant", clicks: "Clicks",
    dismissals: "Dismissals", claims: "Coupon claims", redemptions: "Redemptions", conversions: "Conversions", revenue: "Revenue",
    holdoutGroup: "Holdout", upliftVsHoldout: "Uplift against the holdout", daily: "Exposures and conversions per day",
    allocationOverTime: "Share of exposures per variant over time", lifecycleMix: "Lifecycle mix of shoppers",
    frequency: "Offers seen per shopper per day", frequencyHelp: "Shopper-days by how many offers were seen; the busiest day saw {most}.",
    droppedEvents: "Events dropped from full outboxes: {n}", noData: "No data yet.", days: "Window",
    pending: "Publishing now would change", nothingPending: "Nothing to publish: the drafts are live.",
    publishNow: "Publish", published: "Published version {version}.", notPublished: "Nothing changed; version {version} stays live.",
    versions: "Versions", version: "Version", publishedAt: "Published", rollback: "Roll back to this",
    rollbackConfirm: "Rolling back to version {version} would change", confirm: "Confirm", live: "live",
    field: "Field", before: "Before", after: "After", added: "added", removed: "removed",
    error: "Something went wrong: {message}", loading: "Loading…",
    pb_welcome: "Welcome for new visitors", pb_winback: "Win back dormant shoppers", pb_price: "Coupon for the price-hesitant",
    pb_cart: "Abandoned-cart reminder", pb_vip: "VIP reward", pb_birthday: "Birthday month benefit",
    pb_tier: "Tier-progress nudge", pb_feedback: "Post-purchase feedback question",
    pbd_welcome: "A first-visit welcome with a reason to come back.", pbd_winback: "A comeback offer for shoppers away for a month or more.",
    pbd_price: "A tailored coupon for shoppers who keep looking but hesitate over the price.",
    pbd_cart: "A reminder with the cart's value for shoppers who left items behind.",
    pbd_vip: "Early access for the top tier.", pbd_birthday: "A coupon in the shopper's birthday month.",
    pbd_tier: "Points to the next tier and what it unlocks.", pbd_feedback: "One rating question after an order.",
  },
  ko: {
    title: "단골 대시보드", campaigns: "캠페인", results: "성과", publish: "배포",
    signOut: "로그아웃", site: "사이트", language: "English",
    status: "상태", name: "이름", type: "유형", placement: "위치", exposures: "노출",
    clickRate: "클릭률", conversionRate: "전환율", revenuePerShopper: "고객당 매출",
    actions: "작업", edit: "편집", pause: "일시 중지", resume: "재개", delete: "삭제",
    newCampaign: "새 캠페인", playbooks: "바로 쓰는 플레이북", startDraft: "초안 만들기",
    st_draft: "초안", st_scheduled: "예약됨", st_live: "진행 중", st_paused: "일시 중지", st_ended: "종료",
    unpublishedChanges: "배포되지 않은 변경", noCampaigns: "아직 캠페인이 없습니다. 플레이북으로 시작해 보세요.",
    id: "아이디", idHelp: "영문, 숫자, - 또는 _. 나중에 바꿀 수 없습니다.", campaignName: "이름 (관리용, 고객에게 보이지 않음)",
    content: "콘텐츠", contentType: "콘텐츠 유형", variants: "변형", addVariant: "변형 추가",
    removeVariant: "이 변형 삭제", variantId: "변형 아이디",
    banner: "배너", coupon: "쿠폰", loyalty_prompt: "멤버십 안내", feedback_question: "피드백 질문",
    headline: "제목", body: "본문", image: "이미지 URL", ctaText: "버튼 문구", ctaUrl: "버튼 링크",
    theme: "테마", value: "혜택 (예: 10% 할인)", reveal: "쿠폰 받기 버튼", terms: "유의 사항",
    question: "질문", scale: "척도", rating: "별점 1–5", nps: "NPS 0–10", choice: "선택지",
    choices: "선택지 (한 줄에 하나)", tokensHelp: "텍스트 토큰: {{declared.name | \"고객\"}}, {{cart.value | currency}}, {{declared.points | number}}",
    couponPolicy: "쿠폰 코드", budget: "최대 발급 수", validDays: "코드 유효 일수",
    prefix: "생성 코드 접두어", pool: "코드 풀 (선택, 한 줄에 하나)", uploadCodes: "코드 올리기",
    poolSize: "코드 풀: 전체 {total}개 중 {free}개 남음",
    where: "위치와 시점", placementHelp: "인라인 슬롯은 <div data-dangol-slot=\"id\">, 오버레이는 트리거에 따라 열립니다.",
    newPlacement: "새 오버레이 위치", kind: "형태", trigger: "트리거", addPlacement: "위치 추가",
    inline: "인라인 슬롯", modal: "모달", toast: "토스트", bar: "하단 바",
    page_load: "페이지를 열 때", exit_intent: "나가려 할 때", dwell: "페이지에 머문 초",
    scroll: "스크롤한 비율(%)", inactivity: "입력이 없는 초", nth_page_view: "N번째 페이지 조회",
    returning_with_cart: "장바구니를 두고 돌아왔을 때", triggerValue: "초, 비율 또는 N",
    schedule: "일정", start: "시작", end: "종료", weekdays: "요일 (선택 없음 = 매일)",
    hoursFrom: "시작 시각", hoursTo: "종료 시각",
    weekdayNames: ["월", "화", "수", "목", "금", "토", "일"],
    audience: "대상 고객", addRule: "조건 추가", removeRule: "삭제", everyone: "모든 고객 (조건 없음)",
    conditionJson: "조건 JSON (직접 고치면 조건 목록이 따라갑니다)", conditionAdvanced: "조건 목록으로 나타낼 수 없는 조건입니다. JSON을 고쳐 주세요.",
    conditionInvalid: "조건 JSON이 올바르지 않습니다: {error}",
    reach: "도달 예상", reachOf: "최근 30일 고객 {shoppers}명 중 {matched}명", reachUnknown: "서버가 알 수 없는 값 (없는 것으로 계산): {paths}",
    estimate: "도달 예상 계산",
    delivery: "노출 설정", caps: "노출 빈도 제한", per_session: "세션당", per_day: "하루", per_week: "일주일",
    lifetime: "전체 기간", min_gap_minutes: "노출 간격(분)", dismiss_cooldown_hours: "닫은 뒤 쉬는 시간(시간)",
    stop_after_conversion: "전환 후 중단",
    holdout: "홀드아웃 (효과 측정을 위해 제외할 %)", allocation: "배분", fixed: "고정 비율", bandit: "밴딧 (가장 좋은 변형을 학습)",
    weights: "비율 (%, 변형마다 하나)", minShare: "변형별 최소 비율 (%)",
    priority: "우선순위 (높을수록 먼저)", group: "중복 방지 그룹", paused: "일시 중지 (배포 설정에서 제외)",
    save: "초안 저장", saved: "저장했습니다.", cancel: "캠페인 목록으로", fixProblems: "엔진이 거절했습니다. 표시된 항목을 고쳐 주세요.",
    preview: "미리 보기", example: "예시 고객", ex_new: "첫 방문 고객", ex_vip: "VIP", ex_dormant: "휴면 고객",
    ex_price: "가격에 민감한 고객", ex_cart: "장바구니 이탈 고객", ex_custom: "직접 입력",
    customAttributes: "직접 입력한 속성 (JSON)", gets: "보게 될 것", nothing: "이 위치에는 아무것도 없음",
    reasons: "결정 이유", variantPreview: "변형별 모습", whyShown: "고객에게 보이는 이유",
    r_shown: "노출 ({variant})", r_not_targeted: "대상 조건 불일치", r_out_of_schedule: "일정 밖",
    r_capped: "빈도 제한", r_pressure_limit: "전체 노출 한도", r_holdout: "홀드아웃 대상", r_global_holdout: "전체 홀드아웃 대상",
    r_lost_to_priority: "{winner}에 밀림", r_exclusion_group: "{group} 그룹을 {winner}가 차지", r_needs_consent: "동의 필요",
    r_no_campaigns: "이 위치를 쓰는 캠페인 없음",
    matches: "대상 조건 일치", noMatch: "대상 조건 불일치",
    overall: "개인화의 전체 효과", personalised: "개인화", globalHoldout: "전체 홀드아웃",
    uplift: "향상", shoppers: "고객", converted: "전환 고객", variant: "변형", clicks: "클릭",
    dismissals: "닫기", claims: "쿠폰 발급", redemptions: "쿠폰 사용", conversions: "전환", revenue: "매출",
    holdoutGroup: "홀드아웃", upliftVsHoldout: "홀드아웃 대비 향상", daily: "일별 노출과 전환",
    allocationOverTime: "변형별 노출 비율 추이", lifecycleMix: "고객 생애 단계 분포",
    frequency: "고객 1인당 하루 노출 수", frequencyHelp: "하루에 본 제안 수별 고객-일 수. 가장 많은 날은 {most}개.",
    droppedEvents: "가득 찬 대기열에서 버려진 이벤트: {n}", noData: "아직 데이터가 없습니다.", days: "기간",
    pending: "지금 배포하면 바뀌는 것", nothingPending: "배포할 것이 없습니다. 초안이 이미 배포되어 있습니다.",
    publishNow: "배포", published: "버전 {version}을 배포했습니다.", notPublished: "바뀐 것이 없어 버전 {version}이 유지됩니다.",
    versions: "버전", version: "버전", publishedAt: "배포 시각", rollback: "이 버전으로 되돌리기",
    rollbackConfirm: "버전 {version}으로 되돌리면 바뀌는 것", confirm: "확인", live: "배포 중",
    field: "항목", before: "이전", after: "이후", added: "추가", removed: "삭제",
    error: "문제가 생겼습니다: {message}", loading: "불러오는 중…",
    pb_welcome: "첫 방문 고객 환영", pb_winback: "휴면 고객 다시 부르기", pb_price: "가격을 망설이는 고객 쿠폰",
    pb_cart: "장바구니 리마인더", pb_vip: "VIP 혜택", pb_birthday: "생일 달 혜택",
    pb_tier: "등급 상승 안내", pb_feedback: "구매 후 피드백 질문",
    pbd_welcome: "첫 방문에 다시 올 이유를 드립니다.", pbd_winback: "한 달 넘게 오지 않은 고객에게 복귀 혜택.",
    pbd_price: "자꾸 보지만 가격 때문에 망설이는 고객에게 맞춤 쿠폰.",
    pbd_cart: "장바구니에 담아 두고 떠난 고객에게 리마인더.",
    pbd_vip: "최상위 등급에게 먼저 공개.", pbd_birthday: "생일이 있는 달에 쿠폰.",
    pbd_tier: "다음 등급까지 남은 포인트와 혜택.", pbd_feedback: "주문 뒤 별점 질문 하나.",
  },
};

let current = localStorage.getItem("dangol-admin-lang") || (navigator.language.startsWith("ko") ? "ko" : "en");

export function lang() {
  return current;
}

export function setLang(l) {
  current = l === "ko" ? "ko" : "en";
  localStorage.setItem("dangol-admin-lang", current);
  document.documentElement.lang = current;
}

/** The word for `key`, with `{name}` filled from `vars`. */
export function t(key, vars) {
  const w = WORDS[current][key] ?? WORDS.en[key] ?? key;
  if (!vars || typeof w !== "string") return w;
  return w.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/** Numbers and shares in the admin's language. */
export function num(n, digits = 0) {
  return new Intl.NumberFormat(current === "ko" ? "ko-KR" : "en-US", { maximumFractionDigits: digits }).format(n);
}

export function pct(x, digits = 1) {
  return x == null ? "–" : `${num(x * 100, digits)}%`;
}
