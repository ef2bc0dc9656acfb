// The sign-in page: the only dashboard page served without a session.
const WORDS = {
  en: { email: "Email", password: "Password", signIn: "Sign in", wrong: "The email or password is wrong.", busy: "Too many attempts; wait a minute and try again.", failed: "Sign-in failed: " },
  ko: { email: "이메일", password: "비밀번호", signIn: "로그인", wrong: "이메일 또는 비밀번호가 맞지 않습니다.", busy: "시도가 너무 많습니다. 1분 뒤 다시 해 주세요.", failed: "로그인하지 못했습니다: " },
};
const lang = localStorage.getItem("dangol-admin-lang") || (navigator.language.startsWith("ko") ? "ko" : "en");
const w = WORDS[lang];
document.documentElement.lang = lang;
for (const el of document.querySelectorAll("[data-t]")) el.textContent = w[el.dataset.t];

const form = document.getElementById("login");
const error = document.getElementById("login-error");
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.textContent = "";
  const body = JSON.stringify({ email: form.email.value.trim(), password: form.password.value });
  try {
    const res = await fetch("/v1/admin/login", { method: "POST", headers: { "content-type": "application/json" }, body, credentials: "same-origin" });
    if (res.ok) {
      location.assign("/admin/");
      return;
    }
    error.textContent = res.status === 429 ? w.busy : res.status === 401 ? w.wrong : w.failed + ((await res.json().catch(() => ({}))).error?.message || res.status);
  } catch (err) {
    error.textContent = w.failed + err.message;
  }
  form.password.select();
});
