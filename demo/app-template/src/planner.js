export function planWeek(recipes, days = 7) {
  const plan = [];
  for (let d = 0; d < days; d++) plan.push({ day: d + 1, recipe: recipes[d % recipes.length] });
  return plan;
}
