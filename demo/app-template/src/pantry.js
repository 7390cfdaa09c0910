export function expiringSoon(pantry, today, withinDays = 3) {
  const limit = today.getTime() + withinDays * 86400000;
  return pantry.filter((item) => new Date(item.expires).getTime() <= limit);
}
